package endpoints

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Subsets computes a service's endpoint subsets from its pods: each address lands in
// the subset of exactly the ports it serves (named target ports may resolve differently
// per pod), subsets and their members in a stable order so unchanged input gives an
// unchanged object.
func Subsets(svc *corev1.Service, pods []*corev1.Pod) []corev1.EndpointSubset {
	type member struct {
		addr  corev1.EndpointAddress
		ready bool
		ports []corev1.EndpointPort
	}
	groups := map[string]*corev1.EndpointSubset{}
	headless := svc.Spec.ClusterIP == corev1.ClusterIPNone
	for _, pod := range pods {
		if !ShouldInclude(pod, false) {
			continue
		}
		ip := PodIP(pod, Family(svc))
		if ip == "" {
			continue
		}
		m := member{addr: address(pod, svc, ip), ready: svc.Spec.PublishNotReadyAddresses || PodReady(pod)}
		for i := range svc.Spec.Ports {
			sp := &svc.Spec.Ports[i]
			port, err := FindPort(pod, sp)
			if err != nil {
				continue
			}
			m.ports = append(m.ports, corev1.EndpointPort{Name: sp.Name, Port: port, Protocol: protocolOrTCP(sp.Protocol), AppProtocol: sp.AppProtocol})
		}
		// A headless service without ports still publishes its pods for DNS.
		if len(m.ports) == 0 && !(headless && len(svc.Spec.Ports) == 0) {
			continue
		}
		slices.SortFunc(m.ports, comparePorts)
		key := portsKey(m.ports)
		g := groups[key]
		if g == nil {
			g = &corev1.EndpointSubset{Ports: m.ports}
			groups[key] = g
		}
		if m.ready {
			g.Addresses = append(g.Addresses, m.addr)
		} else {
			g.NotReadyAddresses = append(g.NotReadyAddresses, m.addr)
		}
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []corev1.EndpointSubset
	for _, k := range keys {
		g := groups[k]
		slices.SortFunc(g.Addresses, compareAddresses)
		slices.SortFunc(g.NotReadyAddresses, compareAddresses)
		out = append(out, *g)
	}
	return out
}

func address(pod *corev1.Pod, svc *corev1.Service, ip string) corev1.EndpointAddress {
	a := corev1.EndpointAddress{
		IP:        ip,
		Hostname:  Hostname(pod, svc),
		TargetRef: &corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
	}
	if pod.Spec.NodeName != "" {
		n := pod.Spec.NodeName
		a.NodeName = &n
	}
	return a
}

// Family is the service's primary IP family; IPv4 unless it says otherwise.
func Family(svc *corev1.Service) corev1.IPFamily {
	if len(svc.Spec.IPFamilies) > 0 {
		return svc.Spec.IPFamilies[0]
	}
	return corev1.IPv4Protocol
}

// PodIP is the pod's IP of the given family, or "" when it has none.
func PodIP(pod *corev1.Pod, family corev1.IPFamily) string {
	ips := []string{pod.Status.PodIP}
	for _, p := range pod.Status.PodIPs {
		ips = append(ips, p.IP)
	}
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			continue
		}
		if ip.Is4() == (family != corev1.IPv6Protocol) {
			return s
		}
	}
	return ""
}

func comparePorts(a, b corev1.EndpointPort) int {
	return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol))
}

func compareAddresses(a, b corev1.EndpointAddress) int {
	return cmp.Or(cmp.Compare(a.IP, b.IP), cmp.Compare(a.TargetRef.Name, b.TargetRef.Name))
}

func portsKey(ps []corev1.EndpointPort) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "%s/%d/%s;", p.Name, p.Port, p.Protocol)
	}
	return b.String()
}
