package resources

import (
	"fmt"
	"net"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// Limits on EndpointSlice size, as Kubernetes sets them, so one slice stays small
// enough to fan out to every node's proxy.
const (
	endpointSliceMaxEndpoints = 1000
	endpointSliceMaxAddresses = 100
	endpointSliceMaxPorts     = 20000
)

var endpointSliceAddressTypes = []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}

func (endpointsStrategy) Default(obj runtime.Object) {
	ep, ok := obj.(*corev1.Endpoints)
	if !ok {
		return
	}
	for i := range ep.Subsets {
		for j := range ep.Subsets[i].Ports {
			if p := &ep.Subsets[i].Ports[j]; p.Protocol == "" {
				p.Protocol = corev1.ProtocolTCP
			}
		}
	}
}

func (endpointsStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	ep, ok := obj.(*corev1.Endpoints)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	subsetsPath := field.NewPath("subsets")
	for i := range ep.Subsets {
		ss := &ep.Subsets[i]
		sp := subsetsPath.Index(i)
		// Headless services may have endpoints without ports, never without addresses.
		if len(ss.Addresses) == 0 && len(ss.NotReadyAddresses) == 0 {
			errs = append(errs, field.Required(sp, "must specify `addresses` or `notReadyAddresses`"))
		}
		for j := range ss.Addresses {
			errs = append(errs, validateEndpointAddress(&ss.Addresses[j], sp.Child("addresses").Index(j))...)
		}
		for j := range ss.NotReadyAddresses {
			errs = append(errs, validateEndpointAddress(&ss.NotReadyAddresses[j], sp.Child("notReadyAddresses").Index(j))...)
		}
		for j := range ss.Ports {
			p := &ss.Ports[j]
			pp := sp.Child("ports").Index(j)
			if len(ss.Ports) > 1 && p.Name == "" {
				errs = append(errs, field.Required(pp.Child("name"), ""))
			} else if p.Name != "" {
				for _, msg := range validation.IsDNS1123Label(p.Name) {
					errs = append(errs, field.Invalid(pp.Child("name"), p.Name, msg))
				}
			}
			for _, msg := range validation.IsValidPortNum(int(p.Port)) {
				errs = append(errs, field.Invalid(pp.Child("port"), p.Port, msg))
			}
			errs = append(errs, validateServiceProtocol(p.Protocol, pp.Child("protocol"))...)
			errs = append(errs, validateEndpointAppProtocol(p.AppProtocol, pp.Child("appProtocol"))...)
		}
	}
	return errs
}

func validateEndpointAddress(a *corev1.EndpointAddress, p *field.Path) field.ErrorList {
	errs := validation.IsValidIPForLegacyField(p.Child("ip"), a.IP, true, nil)
	if len(errs) == 0 {
		errs = append(errs, validateEndpointIPNotSpecial(a.IP, p.Child("ip"))...)
	}
	if a.Hostname != "" {
		for _, msg := range validation.IsDNS1123Label(a.Hostname) {
			errs = append(errs, field.Invalid(p.Child("hostname"), a.Hostname, msg))
		}
	}
	if a.NodeName != nil {
		for _, msg := range apivalidation.NameIsDNSSubdomain(*a.NodeName, false) {
			errs = append(errs, field.Invalid(p.Child("nodeName"), *a.NodeName, msg))
		}
	}
	return errs
}

// validateEndpointIPNotSpecial refuses addresses that cannot be a backend: the
// unspecified and loopback addresses mean "this host" wherever they are used, and
// link-local ones usually reach node services such as a cloud metadata server.
func validateEndpointIPNotSpecial(ip string, p *field.Path) field.ErrorList {
	parsed := net.ParseIP(ip)
	if parsed == nil {
		return field.ErrorList{field.Invalid(p, ip, "must be a valid IP address")}
	}
	var errs field.ErrorList
	if parsed.IsUnspecified() {
		errs = append(errs, field.Invalid(p, ip, fmt.Sprintf("may not be unspecified (%v)", ip)))
	}
	if parsed.IsLoopback() {
		errs = append(errs, field.Invalid(p, ip, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if parsed.IsLinkLocalUnicast() {
		errs = append(errs, field.Invalid(p, ip, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if parsed.IsLinkLocalMulticast() {
		errs = append(errs, field.Invalid(p, ip, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return errs
}

func validateEndpointAppProtocol(ap *string, p *field.Path) field.ErrorList {
	if ap == nil {
		return nil
	}
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(*ap) {
		errs = append(errs, field.Invalid(p, *ap, msg))
	}
	return errs
}

func (endpointSliceStrategy) Default(obj runtime.Object) {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return
	}
	for i := range es.Ports {
		p := &es.Ports[i]
		if p.Name == nil {
			p.Name = ptr.To("")
		}
		if p.Protocol == nil {
			p.Protocol = ptr.To(corev1.ProtocolTCP)
		}
	}
}

func (endpointSliceStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	es, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	typePath := field.NewPath("addressType")
	switch {
	case es.AddressType == "":
		errs = append(errs, field.Required(typePath, ""))
	case !slices.Contains(endpointSliceAddressTypes, es.AddressType):
		errs = append(errs, field.NotSupported(typePath, es.AddressType, endpointSliceAddressTypes))
	}
	if oldES, ok := old.(*discoveryv1.EndpointSlice); ok {
		errs = append(errs, apivalidation.ValidateImmutableField(es.AddressType, oldES.AddressType, typePath)...)
	}
	errs = append(errs, validateEndpointSliceEndpoints(es, field.NewPath("endpoints"))...)
	errs = append(errs, validateEndpointSlicePorts(es.Ports, field.NewPath("ports"))...)
	return errs
}

func validateEndpointSliceEndpoints(es *discoveryv1.EndpointSlice, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(es.Endpoints) > endpointSliceMaxEndpoints {
		errs = append(errs, field.TooMany(p, len(es.Endpoints), endpointSliceMaxEndpoints))
	}
	for i := range es.Endpoints {
		e := &es.Endpoints[i]
		ep := p.Index(i)
		ap := ep.Child("addresses")
		if len(e.Addresses) == 0 {
			errs = append(errs, field.Required(ap, "must contain at least 1 address"))
		} else if len(e.Addresses) > endpointSliceMaxAddresses {
			errs = append(errs, field.TooMany(ap, len(e.Addresses), endpointSliceMaxAddresses))
		}
		for j, addr := range e.Addresses {
			errs = append(errs, validateEndpointSliceAddress(es.AddressType, addr, ap.Index(j))...)
		}
		if e.NodeName != nil {
			for _, msg := range apivalidation.NameIsDNSSubdomain(*e.NodeName, false) {
				errs = append(errs, field.Invalid(ep.Child("nodeName"), *e.NodeName, msg))
			}
		}
		if e.Hostname != nil {
			for _, msg := range validation.IsDNS1123Label(*e.Hostname) {
				errs = append(errs, field.Invalid(ep.Child("hostname"), *e.Hostname, msg))
			}
		}
	}
	return errs
}

// validateEndpointSliceAddress checks an address against the slice's address type;
// addresses of an unknown type are left alone (the type itself is reported).
func validateEndpointSliceAddress(t discoveryv1.AddressType, addr string, p *field.Path) field.ErrorList {
	switch t {
	case discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6:
		errs := validation.IsValidIPForLegacyField(p, addr, true, nil)
		if len(errs) > 0 {
			return errs
		}
		if isV4 := net.ParseIP(addr).To4() != nil; isV4 != (t == discoveryv1.AddressTypeIPv4) {
			return field.ErrorList{field.Invalid(p, addr, fmt.Sprintf("must be a valid %s address", t))}
		}
		return validateEndpointIPNotSpecial(addr, p)
	case discoveryv1.AddressTypeFQDN:
		return validation.IsFullyQualifiedDomainName(p, addr)
	}
	return nil
}

func validateEndpointSlicePorts(ports []discoveryv1.EndpointPort, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(ports) > endpointSliceMaxPorts {
		errs = append(errs, field.TooMany(p, len(ports), endpointSliceMaxPorts))
	}
	names := sets.New[string]()
	for i := range ports {
		port := &ports[i]
		pp := p.Index(i)
		if port.Name != nil && *port.Name != "" {
			for _, msg := range validation.IsDNS1123Label(*port.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), *port.Name, msg))
			}
		}
		name := ptr.Deref(port.Name, "")
		if names.Has(name) {
			errs = append(errs, field.Duplicate(pp.Child("name"), name))
		}
		names.Insert(name)
		if port.Protocol == nil {
			errs = append(errs, field.Required(pp.Child("protocol"), ""))
		} else {
			errs = append(errs, validateServiceProtocol(*port.Protocol, pp.Child("protocol"))...)
		}
		if port.Port != nil {
			for _, msg := range validation.IsInRange(int(*port.Port), 0, 65535) {
				errs = append(errs, field.Invalid(pp.Child("port"), *port.Port, msg))
			}
		}
		errs = append(errs, validateEndpointAppProtocol(port.AppProtocol, pp.Child("appProtocol"))...)
	}
	return errs
}

// Port and address checks shared by Services, Endpoints, EndpointSlices and
// NetworkPolicies.

func validateServiceProtocol(proto corev1.Protocol, p *field.Path) field.ErrorList {
	if proto == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	if !slices.Contains(servicePortProtocols, proto) {
		return field.ErrorList{field.NotSupported(p, proto, servicePortProtocols)}
	}
	return nil
}

// validatePortNumOrName accepts a port number or an IANA-style port name (services,
// network policies and probes alike).
func validatePortNumOrName(port intstr.IntOrString, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if port.Type == intstr.String {
		for _, msg := range validation.IsValidPortName(port.StrVal) {
			errs = append(errs, field.Invalid(p, port.StrVal, msg))
		}
		return errs
	}
	for _, msg := range validation.IsValidPortNum(port.IntValue()) {
		errs = append(errs, field.Invalid(p, port.IntValue(), msg))
	}
	return errs
}

func validateServiceLoadBalancerStatus(st *corev1.LoadBalancerStatus, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, ing := range st.Ingress {
		ip := p.Child("ingress").Index(i)
		if ing.IP != "" {
			errs = append(errs, validation.IsValidIPForLegacyField(ip.Child("ip"), ing.IP, true, nil)...)
		}
		if ing.Hostname != "" {
			for _, msg := range validation.IsDNS1123Subdomain(ing.Hostname) {
				errs = append(errs, field.Invalid(ip.Child("hostname"), ing.Hostname, msg))
			}
			if net.ParseIP(ing.Hostname) != nil {
				errs = append(errs, field.Invalid(ip.Child("hostname"), ing.Hostname, "must be a DNS name, not an IP address"))
			}
		}
	}
	return errs
}
