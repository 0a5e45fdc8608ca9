package resources

import (
	"fmt"
	"net"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

var (
	ingressPathTypes = []networkingv1.PathType{networkingv1.PathTypeExact, networkingv1.PathTypeImplementationSpecific, networkingv1.PathTypePrefix}
	// Sequences that would let a path match differently once a proxy normalises it.
	ingressBadPathSeqs     = []string{"//", "/./", "/../", "%2f", "%2F"}
	ingressBadPathSuffixes = []string{"/..", "/."}
	netpolPolicyTypes      = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress, networkingv1.PolicyTypeIngress}
)

const ingressClassControllerMax = 250

func (ingressStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	spec := &ing.Spec
	sp := field.NewPath("spec")
	if len(spec.Rules) == 0 && spec.DefaultBackend == nil {
		errs = append(errs, field.Invalid(sp, spec.Rules, "either `defaultBackend` or `rules` must be specified"))
	}
	if spec.DefaultBackend != nil {
		errs = append(errs, validateIngressBackend(spec.DefaultBackend, sp.Child("defaultBackend"))...)
	}
	for i := range spec.Rules {
		errs = append(errs, validateIngressRule(&spec.Rules[i], sp.Child("rules").Index(i))...)
	}
	for i, tls := range spec.TLS {
		tp := sp.Child("tls").Index(i)
		for j, host := range tls.Hosts {
			errs = append(errs, validateIngressHost(host, tp.Child("hosts").Index(j), false)...)
		}
		if tls.SecretName != "" {
			for _, msg := range apivalidation.NameIsDNSSubdomain(tls.SecretName, false) {
				errs = append(errs, field.Invalid(tp.Child("secretName"), tls.SecretName, msg))
			}
		}
	}
	if c := spec.IngressClassName; c != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*c, false) {
			errs = append(errs, field.Invalid(sp.Child("ingressClassName"), *c, msg))
		}
	}
	errs = append(errs, validateIngressLBStatus(ing.Status.LoadBalancer.Ingress, field.NewPath("status", "loadBalancer", "ingress"))...)
	return errs
}

// validateIngressHost accepts a DNS name or a single leading wildcard label; hosts
// are matched against the HTTP Host header, which never carries an IP here.
func validateIngressHost(host string, p *field.Path, rejectIP bool) field.ErrorList {
	var errs field.ErrorList
	if rejectIP && net.ParseIP(host) != nil {
		errs = append(errs, field.Invalid(p, host, "must be a DNS name, not an IP address"))
	}
	check := validation.IsDNS1123Subdomain
	if strings.Contains(host, "*") {
		check = validation.IsWildcardDNS1123Subdomain
	}
	for _, msg := range check(host) {
		errs = append(errs, field.Invalid(p, host, msg))
	}
	return errs
}

func validateIngressRule(r *networkingv1.IngressRule, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if r.Host != "" {
		errs = append(errs, validateIngressHost(r.Host, p.Child("host"), true)...)
	}
	if r.HTTP == nil {
		return errs
	}
	hp := p.Child("http", "paths")
	if len(r.HTTP.Paths) == 0 {
		errs = append(errs, field.Required(hp, ""))
	}
	for i := range r.HTTP.Paths {
		errs = append(errs, validateIngressPath(&r.HTTP.Paths[i], hp.Index(i))...)
	}
	return errs
}

func validateIngressPath(path *networkingv1.HTTPIngressPath, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if path.PathType == nil {
		return field.ErrorList{field.Required(p.Child("pathType"), "pathType must be specified")}
	}
	pp := p.Child("path")
	switch *path.PathType {
	case networkingv1.PathTypeExact, networkingv1.PathTypePrefix:
		if !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(pp, path.Path, "must be an absolute path"))
		}
		for _, seq := range ingressBadPathSeqs {
			if strings.Contains(path.Path, seq) {
				errs = append(errs, field.Invalid(pp, path.Path, fmt.Sprintf("must not contain '%s'", seq)))
			}
		}
		for _, suf := range ingressBadPathSuffixes {
			if strings.HasSuffix(path.Path, suf) {
				errs = append(errs, field.Invalid(pp, path.Path, fmt.Sprintf("cannot end with '%s'", suf)))
			}
		}
	case networkingv1.PathTypeImplementationSpecific:
		if path.Path != "" && !strings.HasPrefix(path.Path, "/") {
			errs = append(errs, field.Invalid(pp, path.Path, "must be an absolute path"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("pathType"), *path.PathType, ingressPathTypes))
	}
	return append(errs, validateIngressBackend(&path.Backend, p.Child("backend"))...)
}

func validateIngressBackend(b *networkingv1.IngressBackend, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case b.Resource != nil && b.Service != nil:
		return field.ErrorList{field.Invalid(p, "", "cannot set both resource and service backends")}
	case b.Resource != nil:
		rp := p.Child("resource")
		if b.Resource.Kind == "" {
			errs = append(errs, field.Required(rp.Child("kind"), ""))
		}
		if b.Resource.Name == "" {
			errs = append(errs, field.Required(rp.Child("name"), ""))
		}
	case b.Service != nil:
		np := p.Child("service", "name")
		if b.Service.Name == "" {
			errs = append(errs, field.Required(np, ""))
		} else {
			for _, msg := range apivalidation.NameIsDNS1035Label(b.Service.Name, false) {
				errs = append(errs, field.Invalid(np, b.Service.Name, msg))
			}
		}
		port := b.Service.Port
		switch {
		case port.Name != "" && port.Number != 0:
			errs = append(errs, field.Invalid(p, "", "cannot set both port name & port number"))
		case port.Name != "":
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(p.Child("service", "port", "name"), port.Name, msg))
			}
		case port.Number != 0:
			for _, msg := range validation.IsValidPortNum(int(port.Number)) {
				errs = append(errs, field.Invalid(p.Child("service", "port", "number"), port.Number, msg))
			}
		default:
			errs = append(errs, field.Required(p, "port name or number is required"))
		}
	default:
		errs = append(errs, field.Invalid(p, "", "resource or service backend is required"))
	}
	return errs
}

func validateIngressLBStatus(list []networkingv1.IngressLoadBalancerIngress, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, in := range list {
		ip := p.Index(i)
		if in.IP != "" {
			errs = append(errs, validation.IsValidIPForLegacyField(ip.Child("ip"), in.IP, true, nil)...)
		}
		if in.Hostname != "" {
			errs = append(errs, validateIngressHost(in.Hostname, ip.Child("hostname"), true)...)
		}
	}
	return errs
}

func (ingressClassStrategy) Default(obj runtime.Object) {
	if ic, ok := obj.(*networkingv1.IngressClass); ok && ic.Spec.Parameters != nil && ic.Spec.Parameters.Scope == nil {
		ic.Spec.Parameters.Scope = ptr.To(networkingv1.IngressClassParametersReferenceScopeCluster)
	}
}

func (ingressClassStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	ic, ok := obj.(*networkingv1.IngressClass)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	cp := field.NewPath("spec", "controller")
	if len(ic.Spec.Controller) > ingressClassControllerMax {
		errs = append(errs, field.TooLong(cp, ic.Spec.Controller, ingressClassControllerMax))
	}
	errs = append(errs, validation.IsDomainPrefixedPath(cp, ic.Spec.Controller)...)
	if ref := ic.Spec.Parameters; ref != nil {
		pp := field.NewPath("spec", "parameters")
		if ref.Kind == "" {
			errs = append(errs, field.Required(pp.Child("kind"), ""))
		}
		if ref.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), ""))
		}
		scope := ptr.Deref(ref.Scope, "")
		switch scope {
		case networkingv1.IngressClassParametersReferenceScopeNamespace:
			if ref.Namespace == nil || *ref.Namespace == "" {
				errs = append(errs, field.Required(pp.Child("namespace"), "`parameters.scope` is set to 'Namespace'"))
			}
		case networkingv1.IngressClassParametersReferenceScopeCluster:
			if ref.Namespace != nil {
				errs = append(errs, field.Forbidden(pp.Child("namespace"), "`parameters.scope` is set to 'Cluster'"))
			}
		default:
			errs = append(errs, field.NotSupported(pp.Child("scope"), scope, []string{"Cluster", "Namespace"}))
		}
	}
	// Which controller serves a class decides who owns its Ingresses; that cannot
	// change under them.
	if oldIC, ok := old.(*networkingv1.IngressClass); ok {
		errs = append(errs, apivalidation.ValidateImmutableField(ic.Spec.Controller, oldIC.Spec.Controller, cp)...)
	}
	return errs
}

// Default gives ports TCP and derives policyTypes from the rules present: every
// policy isolates ingress, and one with egress rules isolates egress too.
func (networkPolicyStrategy) Default(obj runtime.Object) {
	np, ok := obj.(*networkingv1.NetworkPolicy)
	if !ok {
		return
	}
	for i := range np.Spec.Ingress {
		netpolDefaultPorts(np.Spec.Ingress[i].Ports)
	}
	for i := range np.Spec.Egress {
		netpolDefaultPorts(np.Spec.Egress[i].Ports)
	}
	if len(np.Spec.PolicyTypes) == 0 {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) != 0 {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
}

func netpolDefaultPorts(ports []networkingv1.NetworkPolicyPort) {
	for i := range ports {
		if ports[i].Protocol == nil {
			ports[i].Protocol = ptr.To(corev1.ProtocolTCP)
		}
	}
}

func (networkPolicyStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	np, ok := obj.(*networkingv1.NetworkPolicy)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	sp := field.NewPath("spec")
	opts := metav1validation.LabelSelectorValidationOptions{}
	errs = append(errs, metav1validation.ValidateLabelSelector(&np.Spec.PodSelector, opts, sp.Child("podSelector"))...)
	for i, rule := range np.Spec.Ingress {
		rp := sp.Child("ingress").Index(i)
		errs = append(errs, validateNetpolPorts(rule.Ports, rp.Child("ports"))...)
		for j := range rule.From {
			errs = append(errs, validateNetpolPeer(&rule.From[j], rp.Child("from").Index(j))...)
		}
	}
	for i, rule := range np.Spec.Egress {
		rp := sp.Child("egress").Index(i)
		errs = append(errs, validateNetpolPorts(rule.Ports, rp.Child("ports"))...)
		for j := range rule.To {
			errs = append(errs, validateNetpolPeer(&rule.To[j], rp.Child("to").Index(j))...)
		}
	}
	tp := sp.Child("policyTypes")
	if len(np.Spec.PolicyTypes) > 2 {
		errs = append(errs, field.Invalid(tp, np.Spec.PolicyTypes, "may not specify more than two policyTypes"))
	}
	for i, t := range np.Spec.PolicyTypes {
		if !slices.Contains(netpolPolicyTypes, t) {
			errs = append(errs, field.NotSupported(tp.Index(i), t, netpolPolicyTypes))
		}
	}
	return errs
}

func validateNetpolPorts(ports []networkingv1.NetworkPolicyPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, port := range ports {
		pp := p.Index(i)
		if port.Protocol != nil {
			errs = append(errs, validateServiceProtocol(*port.Protocol, pp.Child("protocol"))...)
		}
		if port.Port != nil {
			errs = append(errs, validatePortNumOrName(*port.Port, pp.Child("port"))...)
		}
		if port.EndPort == nil {
			continue
		}
		ep := pp.Child("endPort")
		switch {
		case port.Port == nil:
			errs = append(errs, field.Required(pp.Child("port"), "must be specified when endPort is specified"))
		case port.Port.Type == intstr.String:
			errs = append(errs, field.Forbidden(ep, "may not be specified when `port` is non-numeric"))
		case *port.EndPort < port.Port.IntVal:
			errs = append(errs, field.Invalid(ep, *port.EndPort, "must be greater than or equal to `port`"))
		default:
			for _, msg := range validation.IsValidPortNum(int(*port.EndPort)) {
				errs = append(errs, field.Invalid(ep, *port.EndPort, msg))
			}
		}
	}
	return errs
}

func validateNetpolPeer(peer *networkingv1.NetworkPolicyPeer, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	opts := metav1validation.LabelSelectorValidationOptions{}
	n := 0
	if peer.PodSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.PodSelector, opts, p.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		errs = append(errs, metav1validation.ValidateLabelSelector(peer.NamespaceSelector, opts, p.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		n++
		errs = append(errs, validateNetpolIPBlock(peer.IPBlock, p.Child("ipBlock"))...)
	}
	switch {
	case n == 0:
		errs = append(errs, field.Required(p, "must specify a peer"))
	case peer.IPBlock != nil && n > 1:
		errs = append(errs, field.Forbidden(p, "may not specify both ipBlock and another peer"))
	}
	return errs
}

func validateNetpolIPBlock(b *networkingv1.IPBlock, p *field.Path) field.ErrorList {
	cp := p.Child("cidr")
	if b.CIDR == "" {
		return field.ErrorList{field.Required(cp, "")}
	}
	errs := validation.IsValidCIDRForLegacyField(cp, b.CIDR, true, nil)
	if len(errs) > 0 {
		return errs
	}
	_, outer, _ := net.ParseCIDR(b.CIDR)
	outerBits, _ := outer.Mask.Size()
	for i, ex := range b.Except {
		xp := p.Child("except").Index(i)
		exErrs := validation.IsValidCIDRForLegacyField(xp, ex, true, nil)
		errs = append(errs, exErrs...)
		if len(exErrs) > 0 {
			continue
		}
		_, inner, _ := net.ParseCIDR(ex)
		innerBits, _ := inner.Mask.Size()
		if !outer.Contains(inner.IP) || innerBits <= outerBits {
			errs = append(errs, field.Invalid(xp, ex, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}
