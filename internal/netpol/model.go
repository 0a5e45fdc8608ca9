package netpol

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// State is everything the rules are computed from: the informers' objects and the
// node the rules are for.
type State struct {
	NodeName   string
	Pods       []*corev1.Pod
	Namespaces []*corev1.Namespace
	Policies   []*networkingv1.NetworkPolicy
	// DNSService and DNSSlices are the cluster DNS. It runs on the nodes' addresses,
	// not in a pod, so policies see it as the pod Kubernetes clusters run: one in
	// DNSService's namespace with its labels, listening on the Service's ports.
	DNSService *corev1.Service
	DNSSlices  []*discoveryv1.EndpointSlice
}

// member is a pod as policies see it: where it lives, its labels, its address and
// the ports a rule may name.
type member struct {
	namespace string
	name      string
	labels    labels.Set
	ip        string
	ports     []memberPort
	// virtual marks the cluster DNS: not a pod, so a policy reaches it only on its
	// ports, and never by its address alone (the address is a node's).
	virtual bool
}

// memberPort is a port a policy can name (name, protocol, number as the policy
// says it) and the port packets actually carry (wire), which differ only for the
// cluster DNS.
type memberPort struct {
	name  string
	proto corev1.Protocol
	port  int32
	wire  int32
}

// wirePort is a protocol and port as they appear in a packet.
type wirePort struct {
	proto corev1.Protocol
	port  int32
}

// model is State indexed for rule building.
type model struct {
	node     string
	nsLabels map[string]labels.Set
	members  []*member // every pod with an IPv4 address, then the DNS endpoints
	local    []*member // the pods of this node, which the rules protect
}

func newModel(st State) *model {
	m := &model{node: st.NodeName, nsLabels: map[string]labels.Set{}}
	for _, ns := range st.Namespaces {
		m.nsLabels[ns.Name] = ns.Labels
	}
	for _, p := range st.Pods {
		mem := podMember(p)
		if mem == nil {
			continue
		}
		m.members = append(m.members, mem)
		if p.Spec.NodeName == st.NodeName {
			m.local = append(m.local, mem)
		}
	}
	m.members = append(m.members, dnsMembers(st.DNSService, st.DNSSlices)...)
	return m
}

// podMember returns the pod as a policy peer or target, or nil when policies do not
// see it: hostNetwork pods are traffic of their node's address (as Kubernetes
// defines it), finished pods may have given their address to another pod, and
// pods without an address have no traffic yet.
func podMember(p *corev1.Pod) *member {
	if p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return nil
	}
	ip := podIPv4(p)
	if ip == "" {
		return nil
	}
	mem := &member{namespace: p.Namespace, name: p.Name, labels: p.Labels, ip: ip}
	for _, c := range p.Spec.Containers {
		for _, cp := range c.Ports {
			mem.ports = append(mem.ports, memberPort{name: cp.Name, proto: protocolOf(cp.Protocol), port: cp.ContainerPort, wire: cp.ContainerPort})
		}
	}
	return mem
}

func podIPv4(p *corev1.Pod) string {
	ips := []string{p.Status.PodIP}
	for _, ip := range p.Status.PodIPs {
		ips = append(ips, ip.IP)
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return a.String()
		}
	}
	return ""
}

// dnsMembers turns the DNS Service's endpoints that are not pods into members: one
// per address, with the Service's port numbers as the policy sees them and the
// endpoint's as packets carry them (a node's DNS may listen on any port).
func dnsMembers(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) []*member {
	if svc == nil {
		return nil
	}
	var out []*member
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 || s.Namespace != svc.Namespace ||
			s.Labels[discoveryv1.LabelServiceName] != svc.Name {
			continue
		}
		ports := dnsPorts(svc, s)
		for _, e := range s.Endpoints {
			if len(e.Addresses) == 0 || (e.TargetRef != nil && e.TargetRef.Kind == "Pod") {
				continue
			}
			out = append(out, &member{namespace: svc.Namespace, name: svc.Name, labels: svc.Labels, ip: e.Addresses[0], ports: ports, virtual: true})
		}
	}
	return out
}

func dnsPorts(svc *corev1.Service, s *discoveryv1.EndpointSlice) []memberPort {
	var out []memberPort
	for _, sp := range s.Ports {
		if sp.Port == nil {
			continue
		}
		name := ptrOr(sp.Name, "")
		proto := protocolOf(ptrOr(sp.Protocol, ""))
		for _, p := range svc.Spec.Ports {
			if p.Name == name && protocolOf(p.Protocol) == proto {
				out = append(out, memberPort{name: name, proto: proto, port: p.Port, wire: *sp.Port})
			}
		}
	}
	return out
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// protocolOf applies the API default (TCP) to an unset protocol.
func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// policyTypes are the directions a policy isolates. The API server defaults them;
// objects stored without them get the same default here.
func policyTypes(np *networkingv1.NetworkPolicy) (ingress, egress bool) {
	types := np.Spec.PolicyTypes
	if len(types) == 0 {
		types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) > 0 {
			types = append(types, networkingv1.PolicyTypeEgress)
		}
	}
	return slices.Contains(types, networkingv1.PolicyTypeIngress), slices.Contains(types, networkingv1.PolicyTypeEgress)
}

// selector converts a label selector; one that does not parse selects nothing
// (validation refuses such selectors, so this only guards old objects).
func selector(ls *metav1.LabelSelector) labels.Selector {
	s, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		return labels.Nothing()
	}
	return s
}

// targets are the local pods a policy applies to.
func (m *model) targets(np *networkingv1.NetworkPolicy) []*member {
	sel := selector(&np.Spec.PodSelector)
	var out []*member
	for _, mem := range m.local {
		if mem.namespace == np.Namespace && sel.Matches(mem.labels) {
			out = append(out, mem)
		}
	}
	return out
}

// peerSelector is a compiled selector peer (one without ipBlock).
type peerSelector struct {
	namespace string          // the policy's namespace, when nsSel is nil
	nsSel     labels.Selector // nil: the policy's namespace only
	podSel    labels.Selector // nil: every pod of the namespaces
}

// selectorPeers compiles the selector peers of a rule, once per rule rather than
// once per pod.
func selectorPeers(ns string, peers []networkingv1.NetworkPolicyPeer) []peerSelector {
	var out []peerSelector
	for _, p := range peers {
		if p.IPBlock != nil || (p.PodSelector == nil && p.NamespaceSelector == nil) {
			continue
		}
		ps := peerSelector{namespace: ns}
		if p.NamespaceSelector != nil {
			ps.nsSel = selector(p.NamespaceSelector)
		}
		if p.PodSelector != nil {
			ps.podSel = selector(p.PodSelector)
		}
		out = append(out, ps)
	}
	return out
}

// selects reports whether any of the peers picks mem: pods in the policy's
// namespace, or in the namespaces a namespaceSelector picks, narrowed by the
// podSelector when there is one.
func (m *model) selects(peers []peerSelector, mem *member) bool {
	for _, p := range peers {
		if p.nsSel == nil && mem.namespace != p.namespace {
			continue
		}
		if p.nsSel != nil && !p.nsSel.Matches(m.namespaceLabels(mem.namespace)) {
			continue
		}
		if p.podSel == nil || p.podSel.Matches(mem.labels) {
			return true
		}
	}
	return false
}

// namespaceLabels are a namespace's labels; the name label is there even before
// the Namespace object is seen.
func (m *model) namespaceLabels(ns string) labels.Set {
	if l, ok := m.nsLabels[ns]; ok {
		return l
	}
	return labels.Set{corev1.LabelMetadataName: ns}
}

// resolve returns the ports of mem that a policy port means, as packets carry
// them: a name is looked up in mem's ports, a number or range is kept (translated
// for the DNS), and a missing port means every port of the protocol mem has.
func (mem *member) resolve(pp networkingv1.NetworkPolicyPort) []wirePort {
	proto := protocolOf(ptrOr(pp.Protocol, ""))
	var out []wirePort
	for _, p := range mem.ports {
		if p.proto != proto {
			continue
		}
		match := pp.Port == nil
		if pp.Port != nil && pp.Port.Type == intstr.String {
			match = p.name != "" && p.name == pp.Port.StrVal
		} else if pp.Port != nil {
			end := max(ptrOr(pp.EndPort, pp.Port.IntVal), pp.Port.IntVal)
			match = p.port >= pp.Port.IntVal && p.port <= end
		}
		if match && !slices.Contains(out, wirePort{proto, p.wire}) {
			out = append(out, wirePort{proto, p.wire})
		}
	}
	return out
}

func protoName(p corev1.Protocol) string { return strings.ToLower(string(p)) }
