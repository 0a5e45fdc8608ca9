package dns

import (
	"net/netip"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// srvRecords answers _<port>._<proto>.<svc>.<ns>.svc.<zone>. Only named ports have
// SRV records. A ClusterIP Service has one record pointing at the Service name; a
// headless one has one per endpoint, pointing at the endpoint's own name, so a
// client can reach each peer individually.
func (r *resolver) srvRecords(q mdns.Question, name string, svc *corev1.Service, portLabel, protoLabel string) result {
	if !strings.HasPrefix(portLabel, "_") || !strings.HasPrefix(protoLabel, "_") {
		return r.nxdomain()
	}
	port, ok := namedPort(svc, portLabel[1:], protoLabel[1:])
	if !ok {
		return r.nxdomain()
	}
	if q.Qtype != mdns.TypeSRV && q.Qtype != mdns.TypeANY {
		return r.nodata()
	}
	if !isHeadless(svc) {
		if svc.Spec.Type == corev1.ServiceTypeExternalName {
			return r.nodata()
		}
		target := r.serviceFQDN(svc)
		res := result{answer: []mdns.RR{r.srv(name, target, uint16(port.Port), 100)}}
		res.extra = r.addressesAll(target, clusterIPs(svc))
		return res
	}
	return r.headlessSRV(name, svc, port)
}

func (r *resolver) headlessSRV(name string, svc *corev1.Service, port corev1.ServicePort) result {
	eps := r.store.endpointsOf(svc)
	if len(eps) == 0 {
		return r.nxdomain()
	}
	weight := uint16(max(1, 100/len(eps)))
	var res result
	for _, ep := range eps {
		target := ep.host + "." + r.serviceFQDN(svc)
		res.answer = append(res.answer, r.srv(name, target, endpointPort(ep, port), weight))
		res.extra = append(res.extra, r.addressesAll(target, []netip.Addr{ep.ip})...)
	}
	return res
}

// endpointPort is the port a client must dial on the endpoint itself: the slice's
// port of the same name, which differs from the Service port when targetPort does.
func endpointPort(ep endpoint, port corev1.ServicePort) uint16 {
	for _, p := range ep.ports {
		if p.Name != nil && *p.Name == port.Name && p.Port != nil {
			return uint16(*p.Port)
		}
	}
	return uint16(port.Port)
}

func namedPort(svc *corev1.Service, name, proto string) (corev1.ServicePort, bool) {
	for _, p := range svc.Spec.Ports {
		if p.Name != "" && strings.EqualFold(p.Name, name) && strings.EqualFold(string(p.Protocol), proto) {
			return p, true
		}
	}
	return corev1.ServicePort{}, false
}

func (r *resolver) srv(name, target string, port, weight uint16) mdns.RR {
	return &mdns.SRV{Hdr: r.hdr(name, mdns.TypeSRV), Priority: 0, Weight: weight, Port: port, Target: target}
}

// addressesAll is every A and AAAA record of name, for additional sections.
func (r *resolver) addressesAll(name string, ips []netip.Addr) []mdns.RR {
	var out []mdns.RR
	for _, ip := range ips {
		out = append(out, r.addressRR(mdns.TypeANY, name, ip))
	}
	return out
}

// reverseIP parses a full in-addr.arpa or ip6.arpa name; partial names (a whole
// network) are not addresses.
func reverseIP(name string) (netip.Addr, bool) {
	labels := mdns.SplitDomainName(strings.ToLower(name))
	n := len(labels)
	if n == 6 && labels[4] == "in-addr" && labels[5] == "arpa" {
		var b [4]byte
		for i := range 4 {
			v, err := strconv.ParseUint(labels[3-i], 10, 8)
			if err != nil {
				return netip.Addr{}, false
			}
			b[i] = byte(v)
		}
		return netip.AddrFrom4(b), true
	}
	if n == 34 && labels[32] == "ip6" && labels[33] == "arpa" {
		var b [16]byte
		for i := range 32 {
			v, err := strconv.ParseUint(labels[31-i], 16, 8)
			if err != nil || len(labels[31-i]) != 1 {
				return netip.Addr{}, false
			}
			b[i/2] |= byte(v) << (4 * (1 - i%2))
		}
		return netip.AddrFrom16(b), true
	}
	return netip.Addr{}, false
}
