package dns

import (
	"net/netip"
	"strings"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
)

// schemaVersion is the version of the Kubernetes DNS specification these records
// follow, published at dns-version.<zone>.
const schemaVersion = "1.1.0"

// result is what the resolver decided for one question. It does no I/O: forwarding
// and chasing CNAMEs out of the cluster are left to the server.
type result struct {
	rcode  int
	answer []mdns.RR
	extra  []mdns.RR
	// authority is set for negative answers so that clients cache them (RFC 2308).
	authority []mdns.RR
	// chase is the CNAME target still to resolve for the question's type.
	chase string
	// forward means the name is not ours; the upstream resolvers should answer.
	forward bool
}

// resolver answers questions about the cluster domain from the informer caches.
type resolver struct {
	store    *store
	zone     string // fully qualified, lower case: "cluster.local."
	ttl      uint32
	services []netip.Prefix // the service CIDRs: reverse names in them are ours
}

func (r *resolver) resolve(q mdns.Question) result {
	name := strings.ToLower(mdns.Fqdn(q.Name))
	switch {
	case mdns.IsSubDomain(r.zone, name):
		rel := mdns.SplitDomainName(strings.TrimSuffix(strings.TrimSuffix(name, r.zone), "."))
		return r.cluster(q, name, rel)
	case mdns.IsSubDomain("in-addr.arpa.", name), mdns.IsSubDomain("ip6.arpa.", name):
		return r.reverse(q, name)
	}
	return result{forward: true}
}

// cluster answers a name inside the cluster domain; rel holds its labels left of
// the zone.
func (r *resolver) cluster(q mdns.Question, name string, rel []string) result {
	n := len(rel)
	switch {
	case n == 0:
		if q.Qtype == mdns.TypeSOA || q.Qtype == mdns.TypeANY {
			return result{answer: []mdns.RR{r.soa()}}
		}
		return r.nodata()
	case n == 1 && rel[0] == "dns-version":
		if q.Qtype != mdns.TypeTXT {
			return r.nodata()
		}
		return result{answer: []mdns.RR{&mdns.TXT{Hdr: r.hdr(name, mdns.TypeTXT), Txt: []string{schemaVersion}}}}
	case rel[n-1] == "svc":
		return r.serviceName(q, name, rel[:n-1])
	case rel[n-1] == "pod":
		return r.podName(q, name, rel[:n-1])
	}
	return r.nxdomain()
}

// serviceName answers <...>.<ns>.svc.<zone>; rest holds the labels left of "svc".
func (r *resolver) serviceName(q mdns.Question, name string, rest []string) result {
	n := len(rest)
	if n == 0 {
		return r.nodata() // svc.<zone> exists only as a parent of other names
	}
	ns := rest[n-1]
	if n == 1 {
		if r.store.namespaceHasServices(ns) {
			return r.nodata()
		}
		return r.nxdomain()
	}
	svc := r.store.service(ns, rest[n-2])
	if svc == nil {
		return r.nxdomain()
	}
	switch n {
	case 2:
		return r.serviceRecords(q, name, svc)
	case 3:
		if strings.HasPrefix(rest[0], "_") {
			return r.protoNode(svc, rest[0])
		}
		return r.hostRecords(q, name, svc, rest[0])
	case 4:
		return r.srvRecords(q, name, svc, rest[0], rest[1])
	}
	return r.nxdomain()
}

func (r *resolver) serviceRecords(q mdns.Question, name string, svc *corev1.Service) result {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		target := strings.ToLower(mdns.Fqdn(svc.Spec.ExternalName))
		res := result{answer: []mdns.RR{&mdns.CNAME{Hdr: r.hdr(name, mdns.TypeCNAME), Target: target}}}
		if q.Qtype != mdns.TypeCNAME {
			res.chase = target
		}
		return res
	}
	var ips []netip.Addr
	if isHeadless(svc) {
		eps := r.store.endpointsOf(svc)
		if len(eps) == 0 {
			// The specification asks for NXDOMAIN when a headless Service has no
			// ready endpoints, so clients do not cache an empty set.
			return r.nxdomain()
		}
		for _, ep := range eps {
			ips = append(ips, ep.ip)
		}
	} else {
		ips = clusterIPs(svc)
	}
	return r.addresses(q, name, ips)
}

// addresses answers A, AAAA (or ANY) for name from ips, NODATA for other types.
func (r *resolver) addresses(q mdns.Question, name string, ips []netip.Addr) result {
	var res result
	for _, ip := range ips {
		if rr := r.addressRR(q.Qtype, name, ip); rr != nil {
			res.answer = append(res.answer, rr)
		}
	}
	if len(res.answer) == 0 {
		return r.nodata()
	}
	return res
}

// addressRR is the A or AAAA record for ip when the question type asks for it.
func (r *resolver) addressRR(qtype uint16, name string, ip netip.Addr) mdns.RR {
	all := qtype == mdns.TypeANY
	switch {
	case ip.Is4() && (qtype == mdns.TypeA || all):
		return &mdns.A{Hdr: r.hdr(name, mdns.TypeA), A: ip.AsSlice()}
	case ip.Is6() && (qtype == mdns.TypeAAAA || all):
		return &mdns.AAAA{Hdr: r.hdr(name, mdns.TypeAAAA), AAAA: ip.AsSlice()}
	}
	return nil
}

// hostRecords answers <hostname>.<svc>.<ns>.svc.<zone>: a StatefulSet pod, or any
// endpoint of a headless Service under its system-assigned name.
func (r *resolver) hostRecords(q mdns.Question, name string, svc *corev1.Service, host string) result {
	if !isHeadless(svc) {
		return r.nxdomain()
	}
	var ips []netip.Addr
	for _, ep := range r.store.endpointsOf(svc) {
		if ep.host == host {
			ips = append(ips, ep.ip)
		}
	}
	if len(ips) == 0 {
		return r.nxdomain()
	}
	return r.addresses(q, name, ips)
}

// protoNode answers _<proto>.<svc>.<ns>.svc.<zone>, which exists only as the
// parent of SRV names.
func (r *resolver) protoNode(svc *corev1.Service, proto string) result {
	for _, p := range svc.Spec.Ports {
		if p.Name != "" && strings.EqualFold("_"+string(p.Protocol), proto) {
			return r.nodata()
		}
	}
	return r.nxdomain()
}

// reverse answers PTR questions for service and pod addresses. Addresses in the
// service CIDR are ours even when unallocated (NXDOMAIN); other unknown addresses
// go upstream, since they may belong to the host's network.
func (r *resolver) reverse(q mdns.Question, name string) result {
	ip, ok := reverseIP(name)
	if !ok {
		return result{forward: true}
	}
	targets := r.ptrTargets(ip)
	if len(targets) == 0 {
		if r.inServiceCIDR(ip) {
			return r.nxdomain()
		}
		return result{forward: true}
	}
	if q.Qtype != mdns.TypePTR && q.Qtype != mdns.TypeANY {
		return r.nodata()
	}
	var res result
	for _, t := range targets {
		res.answer = append(res.answer, &mdns.PTR{Hdr: r.hdr(name, mdns.TypePTR), Ptr: t})
	}
	return res
}

// ptrTargets names ip: a Service cluster IP, else a headless endpoint, else a pod.
func (r *resolver) ptrTargets(ip netip.Addr) []string {
	var out []string
	for _, svc := range r.store.servicesByIP(ip) {
		out = append(out, r.serviceFQDN(svc))
	}
	if len(out) > 0 {
		return out
	}
	if svc, host, ok := r.store.endpointFor(ip); ok {
		return []string{host + "." + r.serviceFQDN(svc)}
	}
	for _, p := range r.store.podsByIP(ip) {
		return []string{dashed(ip) + "." + p.Namespace + ".pod." + r.zone}
	}
	return nil
}

func (r *resolver) inServiceCIDR(ip netip.Addr) bool {
	for _, p := range r.services {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// podName answers <a-b-c-d>.<ns>.pod.<zone>, which the specification requires for
// any address, whether or not a pod holds it.
func (r *resolver) podName(q mdns.Question, name string, rest []string) result {
	switch len(rest) {
	case 0, 1:
		return r.nodata()
	case 2:
		ip, ok := undashed(rest[0])
		if !ok {
			return r.nxdomain()
		}
		return r.addresses(q, name, []netip.Addr{ip})
	}
	return r.nxdomain()
}

func (r *resolver) serviceFQDN(svc *corev1.Service) string {
	return svc.Name + "." + svc.Namespace + ".svc." + r.zone
}

func (r *resolver) hdr(name string, t uint16) mdns.RR_Header {
	return mdns.RR_Header{Name: name, Rrtype: t, Class: mdns.ClassINET, Ttl: r.ttl}
}

func (r *resolver) soa() mdns.RR {
	return &mdns.SOA{
		Hdr:     r.hdr(r.zone, mdns.TypeSOA),
		Ns:      "ns.dns." + r.zone,
		Mbox:    "hostmaster." + r.zone,
		Serial:  1,
		Refresh: 7200,
		Retry:   1800,
		Expire:  86400,
		Minttl:  r.ttl,
	}
}

func (r *resolver) nxdomain() result {
	return result{rcode: mdns.RcodeNameError, authority: []mdns.RR{r.soa()}}
}

func (r *resolver) nodata() result {
	return result{authority: []mdns.RR{r.soa()}}
}
