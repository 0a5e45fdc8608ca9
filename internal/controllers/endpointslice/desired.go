package endpointslice

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"skiff/internal/controllers/endpoints"
)

// group is the endpoints that share one address type and one resolved port set, and
// so may share slices.
type group struct {
	addressType discoveryv1.AddressType
	ports       []discoveryv1.EndpointPort
	endpoints   []discoveryv1.Endpoint
}

// Desired computes the service's endpoints grouped by address type and port set. Pods
// being deleted stay listed as terminating (not ready, serving as their readiness says)
// so that proxies can drain them.
func Desired(svc *corev1.Service, pods []*corev1.Pod) map[string]*group {
	out := map[string]*group{}
	families := svc.Spec.IPFamilies
	if len(families) == 0 {
		families = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	headless := svc.Spec.ClusterIP == corev1.ClusterIPNone
	for _, pod := range pods {
		if !endpoints.ShouldInclude(pod, true) {
			continue
		}
		ports := podPorts(pod, svc)
		if len(ports) == 0 && !(headless && len(svc.Spec.Ports) == 0) {
			continue
		}
		for _, fam := range families {
			ip := endpoints.PodIP(pod, fam)
			if ip == "" {
				continue
			}
			at := addressType(fam)
			key := groupKey(at, ports)
			g := out[key]
			if g == nil {
				g = &group{addressType: at, ports: ports}
				out[key] = g
			}
			g.endpoints = append(g.endpoints, endpoint(pod, svc, ip))
		}
	}
	for _, g := range out {
		slices.SortFunc(g.endpoints, func(a, b discoveryv1.Endpoint) int { return cmp.Compare(endpointKey(a), endpointKey(b)) })
	}
	return out
}

func addressType(f corev1.IPFamily) discoveryv1.AddressType {
	if f == corev1.IPv6Protocol {
		return discoveryv1.AddressTypeIPv6
	}
	return discoveryv1.AddressTypeIPv4
}

func podPorts(pod *corev1.Pod, svc *corev1.Service) []discoveryv1.EndpointPort {
	var ports []discoveryv1.EndpointPort
	for i := range svc.Spec.Ports {
		sp := &svc.Spec.Ports[i]
		port, err := endpoints.FindPort(pod, sp)
		if err != nil {
			continue
		}
		name, proto := sp.Name, sp.Protocol
		if proto == "" {
			proto = corev1.ProtocolTCP
		}
		ports = append(ports, discoveryv1.EndpointPort{Name: &name, Port: &port, Protocol: &proto, AppProtocol: sp.AppProtocol})
	}
	slices.SortFunc(ports, func(a, b discoveryv1.EndpointPort) int {
		return cmp.Or(cmp.Compare(*a.Name, *b.Name), cmp.Compare(*a.Port, *b.Port), cmp.Compare(*a.Protocol, *b.Protocol))
	})
	return ports
}

func endpoint(pod *corev1.Pod, svc *corev1.Service, ip string) discoveryv1.Endpoint {
	podReady := endpoints.PodReady(pod)
	terminating := pod.DeletionTimestamp != nil
	serving := podReady
	// publishNotReadyAddresses makes every listed pod ready, even a terminating one.
	ready := svc.Spec.PublishNotReadyAddresses || (serving && !terminating)
	ep := discoveryv1.Endpoint{
		Addresses:  []string{ip},
		Conditions: discoveryv1.EndpointConditions{Ready: &ready, Serving: &serving, Terminating: &terminating},
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if h := endpoints.Hostname(pod, svc); h != "" {
		ep.Hostname = &h
	}
	if pod.Spec.NodeName != "" {
		n := pod.Spec.NodeName
		ep.NodeName = &n
	}
	return ep
}

// endpointKey identifies an endpoint across syncs: the pod and its address.
func endpointKey(e discoveryv1.Endpoint) string {
	var k string
	if e.TargetRef != nil {
		k = e.TargetRef.Namespace + "/" + e.TargetRef.Name
	}
	if len(e.Addresses) > 0 {
		k += "@" + e.Addresses[0]
	}
	return k
}

func groupKey(at discoveryv1.AddressType, ports []discoveryv1.EndpointPort) string {
	var b strings.Builder
	b.WriteString(string(at))
	for _, p := range ports {
		fmt.Fprintf(&b, ";%s/%d/%s/%s", deref(p.Name), deref(p.Port), deref(p.Protocol), deref(p.AppProtocol))
	}
	return b.String()
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
