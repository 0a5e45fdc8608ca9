package dns

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// clusterObjects is a small cluster: a ClusterIP service, a dual-stack one, a
// headless StatefulSet service, a headless service publishing not-ready addresses,
// an empty headless service, two ExternalName services and a pod.
func clusterObjects() []runtime.Object {
	webPorts := []discoveryv1.EndpointPort{slicePort("http", corev1.ProtocolTCP, 8080)}
	dbPorts := []discoveryv1.EndpointPort{slicePort("mysql", corev1.ProtocolTCP, 3306)}
	ext := service("default", "ext", "")
	ext.Spec.Type, ext.Spec.ExternalName = corev1.ServiceTypeExternalName, "www.Example.com"
	alias := service("default", "alias", "")
	alias.Spec.Type, alias.Spec.ExternalName = corev1.ServiceTypeExternalName, "web.default.svc.cluster.local"
	peers := service("default", "peers", corev1.ClusterIPNone, port("gossip", corev1.ProtocolUDP, 7000))
	peers.Spec.PublishNotReadyAddresses = true
	return []runtime.Object{
		service("default", "web", "10.96.0.20", port("http", corev1.ProtocolTCP, 80), port("", corev1.ProtocolTCP, 81)),
		slice("default", "web", "web-1", webPorts, ep{ip: "10.244.1.5", ready: true}),
		service("default", "dual", "10.96.0.30,fd00:96::30", port("http", corev1.ProtocolTCP, 80)),
		service("db", "mysql", corev1.ClusterIPNone, port("mysql", corev1.ProtocolTCP, 3306)),
		slice("db", "mysql", "mysql-a", dbPorts,
			ep{ip: "10.244.1.10", hostname: "mysql-0", ready: true},
			ep{ip: "10.244.2.10", hostname: "mysql-1", ready: true},
			ep{ip: "10.244.2.11", hostname: "mysql-2", ready: false}),
		// The same endpoint in a second slice, as during a slice rebalance.
		slice("db", "mysql", "mysql-b", dbPorts, ep{ip: "10.244.2.10", hostname: "mysql-1", ready: true},
			ep{ip: "10.244.3.7", ready: true}),
		peers,
		slice("default", "peers", "peers-1", nil, ep{ip: "10.244.4.1", ready: false}),
		service("default", "empty", corev1.ClusterIPNone),
		ext, alias,
		pod("default", "lonely", "10.244.9.9"),
	}
}

// ip6Reverse is the reverse name of fd00:96::30.
const ip6Reverse = "0.3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.0.d.f.ip6.arpa."

func TestClusterRecords(t *testing.T) {
	addr, _ := startServer(t, Config{}, clusterObjects()...)
	tests := []struct {
		name  string
		qname string
		qtype uint16
		rcode int
		want  []string
		extra []string
	}{
		{"service A", "web.default.svc.cluster.local", mdns.TypeA, 0,
			[]string{"web.default.svc.cluster.local. A 10.96.0.20"}, nil},
		{"case-insensitive", "WEB.Default.SVC.cluster.LOCAL", mdns.TypeA, 0,
			[]string{"web.default.svc.cluster.local. A 10.96.0.20"}, nil},
		{"IPv4-only service has no AAAA", "web.default.svc.cluster.local", mdns.TypeAAAA, 0, []string{}, nil},
		{"dual-stack A", "dual.default.svc.cluster.local", mdns.TypeA, 0,
			[]string{"dual.default.svc.cluster.local. A 10.96.0.30"}, nil},
		{"dual-stack AAAA", "dual.default.svc.cluster.local", mdns.TypeAAAA, 0,
			[]string{"dual.default.svc.cluster.local. AAAA fd00:96::30"}, nil},
		{"SRV named port", "_http._tcp.web.default.svc.cluster.local", mdns.TypeSRV, 0,
			[]string{"_http._tcp.web.default.svc.cluster.local. SRV 0 100 80 web.default.svc.cluster.local."},
			[]string{"web.default.svc.cluster.local. A 10.96.0.20"}},
		{"SRV wrong protocol", "_http._udp.web.default.svc.cluster.local", mdns.TypeSRV, mdns.RcodeNameError, []string{}, nil},
		{"SRV protocol node exists", "_tcp.web.default.svc.cluster.local", mdns.TypeSRV, 0, []string{}, nil},
		{"headless A: ready endpoints only, no duplicates", "mysql.db.svc.cluster.local", mdns.TypeA, 0, []string{
			"mysql.db.svc.cluster.local. A 10.244.1.10",
			"mysql.db.svc.cluster.local. A 10.244.2.10",
			"mysql.db.svc.cluster.local. A 10.244.3.7"}, nil},
		{"StatefulSet pod by hostname", "mysql-1.mysql.db.svc.cluster.local", mdns.TypeA, 0,
			[]string{"mysql-1.mysql.db.svc.cluster.local. A 10.244.2.10"}, nil},
		{"not-ready pod hostname", "mysql-2.mysql.db.svc.cluster.local", mdns.TypeA, mdns.RcodeNameError, []string{}, nil},
		{"endpoint without hostname by dashed IP", "10-244-3-7.mysql.db.svc.cluster.local", mdns.TypeA, 0,
			[]string{"10-244-3-7.mysql.db.svc.cluster.local. A 10.244.3.7"}, nil},
		{"headless SRV per endpoint", "_mysql._tcp.mysql.db.svc.cluster.local", mdns.TypeSRV, 0, []string{
			"_mysql._tcp.mysql.db.svc.cluster.local. SRV 0 33 3306 10-244-3-7.mysql.db.svc.cluster.local.",
			"_mysql._tcp.mysql.db.svc.cluster.local. SRV 0 33 3306 mysql-0.mysql.db.svc.cluster.local.",
			"_mysql._tcp.mysql.db.svc.cluster.local. SRV 0 33 3306 mysql-1.mysql.db.svc.cluster.local."}, []string{
			"10-244-3-7.mysql.db.svc.cluster.local. A 10.244.3.7",
			"mysql-0.mysql.db.svc.cluster.local. A 10.244.1.10",
			"mysql-1.mysql.db.svc.cluster.local. A 10.244.2.10"}},
		{"publishNotReadyAddresses", "peers.default.svc.cluster.local", mdns.TypeA, 0,
			[]string{"peers.default.svc.cluster.local. A 10.244.4.1"}, nil},
		{"headless without endpoints", "empty.default.svc.cluster.local", mdns.TypeA, mdns.RcodeNameError, []string{}, nil},
		{"ExternalName CNAME", "ext.default.svc.cluster.local", mdns.TypeCNAME, 0,
			[]string{"ext.default.svc.cluster.local. CNAME www.example.com."}, nil},
		{"ExternalName without upstream: CNAME alone", "ext.default.svc.cluster.local", mdns.TypeA, 0,
			[]string{"ext.default.svc.cluster.local. CNAME www.example.com."}, nil},
		{"ExternalName into the cluster is chased", "alias.default.svc.cluster.local", mdns.TypeA, 0, []string{
			"alias.default.svc.cluster.local. CNAME web.default.svc.cluster.local.",
			"web.default.svc.cluster.local. A 10.96.0.20"}, nil},
		{"PTR service IP", "20.0.96.10.in-addr.arpa", mdns.TypePTR, 0,
			[]string{"20.0.96.10.in-addr.arpa. PTR web.default.svc.cluster.local."}, nil},
		{"PTR IPv6 service IP", ip6Reverse, mdns.TypePTR, 0,
			[]string{ip6Reverse + " PTR dual.default.svc.cluster.local."}, nil},
		{"PTR headless endpoint", "10.2.244.10.in-addr.arpa", mdns.TypePTR, 0,
			[]string{"10.2.244.10.in-addr.arpa. PTR mysql-1.mysql.db.svc.cluster.local."}, nil},
		{"PTR pod", "9.9.244.10.in-addr.arpa", mdns.TypePTR, 0,
			[]string{"9.9.244.10.in-addr.arpa. PTR 10-244-9-9.default.pod.cluster.local."}, nil},
		{"PTR unallocated service IP", "99.0.96.10.in-addr.arpa", mdns.TypePTR, mdns.RcodeNameError, []string{}, nil},
		{"pod A record", "10-244-9-9.default.pod.cluster.local", mdns.TypeA, 0,
			[]string{"10-244-9-9.default.pod.cluster.local. A 10.244.9.9"}, nil},
		{"pod AAAA record", "fd00--1.default.pod.cluster.local", mdns.TypeAAAA, 0,
			[]string{"fd00--1.default.pod.cluster.local. AAAA fd00::1"}, nil},
		{"not an IP under pod", "nope.default.pod.cluster.local", mdns.TypeA, mdns.RcodeNameError, []string{}, nil},
		{"unknown service", "nope.default.svc.cluster.local", mdns.TypeA, mdns.RcodeNameError, []string{}, nil},
		{"unknown namespace", "db.nowhere.svc.cluster.local", mdns.TypeA, mdns.RcodeNameError, []string{}, nil},
		{"namespace is an empty non-terminal", "db.svc.cluster.local", mdns.TypeA, 0, []string{}, nil},
		{"search-list miss", "web.default.svc.cluster.local.default.svc.cluster.local", mdns.TypeA, mdns.RcodeNameError, []string{}, nil},
		{"other name in zone", "foo.cluster.local", mdns.TypeA, mdns.RcodeNameError, []string{}, nil},
		{"schema version", "dns-version.cluster.local", mdns.TypeTXT, 0,
			[]string{`dns-version.cluster.local. TXT "1.1.0"`}, nil},
		{"zone SOA", "cluster.local", mdns.TypeSOA, 0,
			[]string{"cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := query(t, addr, tt.qname, tt.qtype)
			if resp.Rcode != tt.rcode {
				t.Errorf("rcode = %s, want %s", mdns.RcodeToString[resp.Rcode], mdns.RcodeToString[tt.rcode])
			}
			if diff := cmp.Diff(tt.want, rrText(resp.Answer)); diff != "" {
				t.Errorf("answer (-want +got):\n%s", diff)
			}
			if tt.extra != nil {
				if diff := cmp.Diff(tt.extra, rrText(resp.Extra)); diff != "" {
					t.Errorf("extra (-want +got):\n%s", diff)
				}
			}
			if !resp.Authoritative {
				t.Error("cluster answers must be authoritative")
			}
			if len(resp.Answer) == 0 && len(resp.Ns) == 0 {
				t.Error("negative answer without SOA: clients cannot cache it")
			}
			for _, rr := range resp.Answer {
				if rr.Header().Ttl != 5 {
					t.Errorf("TTL %d, want 5: %s", rr.Header().Ttl, rr)
				}
			}
		})
	}
}
