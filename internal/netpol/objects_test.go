package netpol

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// pod is "ns/name@node ip label=value,..." with optional ports "name:proto:port".
func pod(spec string, ports ...string) *corev1.Pod {
	f := strings.Fields(spec)
	nsName, node, _ := strings.Cut(f[0], "@")
	ns, name, _ := strings.Cut(nsName, "/")
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{}},
		Spec:   corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c"}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, PodIP: f[1]}}
	if len(f) > 2 {
		for _, kv := range strings.Split(f[2], ",") {
			k, v, _ := strings.Cut(kv, "=")
			p.Labels[k] = v
		}
	}
	for _, s := range ports {
		pp := strings.Split(s, ":")
		var n int32
		fmt.Sscan(pp[2], &n)
		p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports,
			corev1.ContainerPort{Name: pp[0], Protocol: corev1.Protocol(pp[1]), ContainerPort: n})
	}
	return p
}

func namespace(name string, kv ...string) *corev1.Namespace {
	l := map[string]string{corev1.LabelMetadataName: name}
	for i := 0; i+1 < len(kv); i += 2 {
		l[kv[i]] = kv[i+1]
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l}}
}

type policyOpt func(*networkingv1.NetworkPolicy)

// policy selects pods in ns by the given labels ("" selects all).
func policy(ns, name, sel string, opts ...policyOpt) *networkingv1.NetworkPolicy {
	np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: networkingv1.NetworkPolicySpec{PodSelector: labelSel(sel)}}
	for _, o := range opts {
		o(np)
	}
	return np
}

func labelSel(s string) metav1.LabelSelector {
	ls := metav1.LabelSelector{}
	if s == "" {
		return ls
	}
	ls.MatchLabels = map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		ls.MatchLabels[k] = v
	}
	return ls
}

func types(t ...networkingv1.PolicyType) policyOpt {
	return func(np *networkingv1.NetworkPolicy) { np.Spec.PolicyTypes = t }
}

const (
	in = networkingv1.PolicyTypeIngress
	eg = networkingv1.PolicyTypeEgress
)

func ingress(ports []networkingv1.NetworkPolicyPort, from ...networkingv1.NetworkPolicyPeer) policyOpt {
	return func(np *networkingv1.NetworkPolicy) {
		np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{Ports: ports, From: from})
	}
}

func egress(ports []networkingv1.NetworkPolicyPort, to ...networkingv1.NetworkPolicyPeer) policyOpt {
	return func(np *networkingv1.NetworkPolicy) {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{Ports: ports, To: to})
	}
}

// ports: "80", "8000-9000", "http", each optionally "/UDP" or "/SCTP"; "/UDP" alone
// is every UDP port.
func ports(specs ...string) []networkingv1.NetworkPolicyPort {
	var out []networkingv1.NetworkPolicyPort
	for _, s := range specs {
		val, proto, _ := strings.Cut(s, "/")
		pp := networkingv1.NetworkPolicyPort{Protocol: ptr.To(corev1.ProtocolTCP)}
		if proto != "" {
			pp.Protocol = ptr.To(corev1.Protocol(proto))
		}
		from, to, isRange := strings.Cut(val, "-")
		var n, end int32
		switch {
		case val == "":
		case isRange:
			fmt.Sscan(from, &n)
			fmt.Sscan(to, &end)
			pp.Port, pp.EndPort = ptr.To(intstr.FromInt32(n)), ptr.To(end)
		case func() bool { _, err := fmt.Sscan(val, &n); return err == nil }():
			pp.Port = ptr.To(intstr.FromInt32(n))
		default:
			pp.Port = ptr.To(intstr.FromString(val))
		}
		out = append(out, pp)
	}
	return out
}

func podPeer(sel string) networkingv1.NetworkPolicyPeer {
	ls := labelSel(sel)
	return networkingv1.NetworkPolicyPeer{PodSelector: &ls}
}

func nsPeer(nsSel, podSel string) networkingv1.NetworkPolicyPeer {
	ls := labelSel(nsSel)
	p := networkingv1.NetworkPolicyPeer{NamespaceSelector: &ls}
	if podSel != "-" {
		ps := labelSel(podSel)
		p.PodSelector = &ps
	}
	return p
}

func blockPeer(cidr string, except ...string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: cidr, Except: except}}
}

// dnsState is the cluster DNS as skiff publishes it: a node address and a port of
// its own behind the kube-dns Service's port 53.
func dnsState(ip string, port int32) (*corev1.Service, []*discoveryv1.EndpointSlice) {
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns",
		Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{
			{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53}, {Name: "dns-tcp", Protocol: corev1.ProtocolTCP, Port: 53}}}}
	slice := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Namespace: "kube-system", Name: "kube-dns-n1",
		Labels: map[string]string{discoveryv1.LabelServiceName: "kube-dns"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{ip}}},
		Ports: []discoveryv1.EndpointPort{{Name: ptr.To("dns"), Protocol: ptr.To(corev1.ProtocolUDP), Port: ptr.To(port)},
			{Name: ptr.To("dns-tcp"), Protocol: ptr.To(corev1.ProtocolTCP), Port: ptr.To(port)}}}
	return svc, []*discoveryv1.EndpointSlice{slice}
}
