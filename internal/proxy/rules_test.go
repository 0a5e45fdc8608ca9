package proxy

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"skiff/internal/nfttable"
)

// elems is the content of the dispatch maps: map name → key → verdict.
type elems map[string]map[string]string

const (
	web  = "svc-default/web/tcp/80"
	webX = "ext-default/web/tcp/80"
	webL = "local-default/web/tcp/80"
)

func epc(ip string) string { return "ep-default/web/tcp/80/" + ip + "/8080" }

func TestBuild(t *testing.T) {
	tests := []struct {
		name     string
		services []*corev1.Service
		slices   []*discoveryv1.EndpointSlice
		npCIDRs  []string
		want     elems
		chains   map[string][]string // exact rules of these chains
		absent   []string            // chains that must not exist
		sets     []string            // sets that must exist
	}{{
		name:     "ClusterIP balances over ready endpoints, masquerades non-pod sources and hairpins",
		services: []*corev1.Service{service("web", "10.96.0.10", 80)},
		slices:   []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2@n1", "10.1.0.3@n2", "10.1.0.4@n1!")},
		want:     elems{mapServiceIPs: {"10.96.0.10 . tcp . 80": "goto " + web}},
		chains: map[string][]string{
			web: {"ip saddr != 10.1.0.0/16 jump mark-for-masquerade",
				"numgen random mod 2 vmap { 0 : goto " + epc("10.1.0.2") + " , 1 : goto " + epc("10.1.0.3") + " }"},
			epc("10.1.0.2"): {"ip saddr 10.1.0.2 jump mark-for-masquerade", "meta l4proto tcp dnat to 10.1.0.2:8080"},
		},
		absent: []string{epc("10.1.0.4"), webX, webL},
	}, {
		name:     "the named target port comes resolved from the slice; other ports are ignored",
		services: []*corev1.Service{service("web", "10.96.0.10", 80)},
		slices: []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2"),
			slice("web", "UDP", 9999, "10.1.0.9")},
		want:   elems{mapServiceIPs: {"10.96.0.10 . tcp . 80": "goto " + web}},
		chains: map[string][]string{web: {"ip saddr != 10.1.0.0/16 jump mark-for-masquerade", "goto " + epc("10.1.0.2")}},
	}, {
		name:     "terminating endpoints still serving are used when none is ready",
		services: []*corev1.Service{service("web", "10.96.0.10", 80)},
		slices:   []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2~", "10.1.0.3!")},
		want:     elems{mapServiceIPs: {"10.96.0.10 . tcp . 80": "goto " + web}},
		chains:   map[string][]string{web: {"ip saddr != 10.1.0.0/16 jump mark-for-masquerade", "goto " + epc("10.1.0.2")}},
		absent:   []string{epc("10.1.0.3")},
	}, {
		name:     "no endpoints rejects on the ClusterIP and the NodePort",
		services: []*corev1.Service{service("web", "10.96.0.10", 80, nodePort(30080))},
		slices:   []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2!")},
		want: elems{mapNoEndpointIPs: {"10.96.0.10 . tcp . 80": "goto reject-chain"},
			mapNoEndpointPorts: {"tcp . 30080": "goto reject-chain"}},
		absent: []string{web, webX},
	}, {
		name: "headless and ExternalName services have no rules",
		services: []*corev1.Service{service("web", "None", 80),
			service("ext", "", 80, func(s *corev1.Service) {
				s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
			})},
		slices: []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2")},
		want:   elems{},
		absent: []string{web},
	}, {
		name: "a service handed to another proxy is ignored",
		services: []*corev1.Service{service("web", "10.96.0.10", 80, func(s *corev1.Service) {
			s.Labels = map[string]string{serviceProxyNameLabel: "other"}
		})},
		want: elems{},
	}, {
		name:     "UDP and SCTP are keyed by their protocol",
		services: []*corev1.Service{service("dns", "10.96.0.53", 53, protocol("UDP")), service("s", "10.96.0.7", 7, protocol("SCTP"))},
		slices:   []*discoveryv1.EndpointSlice{slice("dns", "UDP", 5353, "10.1.0.2"), slice("s", "SCTP", 7, "10.1.0.3")},
		want: elems{mapServiceIPs: {"10.96.0.53 . udp . 53": "goto svc-default/dns/udp/53",
			"10.96.0.7 . sctp . 7": "goto svc-default/s/sctp/7"}},
		chains: map[string][]string{"ep-default/dns/udp/53/10.1.0.2/5353": {
			"ip saddr 10.1.0.2 jump mark-for-masquerade", "meta l4proto udp dnat to 10.1.0.2:5353"}},
	}, {
		name:     "ClientIP affinity sticks to a remembered endpoint for its timeout",
		services: []*corev1.Service{service("web", "10.96.0.10", 80, affinity(60))},
		slices:   []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2", "10.1.0.3")},
		want:     elems{mapServiceIPs: {"10.96.0.10 . tcp . 80": "goto " + web}},
		chains: map[string][]string{
			web: {"ip saddr != 10.1.0.0/16 jump mark-for-masquerade",
				"ip saddr @aff-default/web/tcp/80/10.1.0.2/8080/60 goto " + epc("10.1.0.2"),
				"ip saddr @aff-default/web/tcp/80/10.1.0.3/8080/60 goto " + epc("10.1.0.3"),
				"numgen random mod 2 vmap { 0 : goto " + epc("10.1.0.2") + " , 1 : goto " + epc("10.1.0.3") + " }"},
			epc("10.1.0.3"): {"ip saddr 10.1.0.3 jump mark-for-masquerade",
				"update @aff-default/web/tcp/80/10.1.0.3/8080/60 { ip saddr }",
				"meta l4proto tcp dnat to 10.1.0.3:8080"},
		},
		sets: []string{"aff-default/web/tcp/80/10.1.0.2/8080/60"},
	}, {
		name:     "NodePort with the Cluster policy masquerades and uses every endpoint",
		services: []*corev1.Service{service("web", "10.96.0.10", 80, nodePort(30080))},
		slices:   []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2@n2")},
		want: elems{mapServiceIPs: {"10.96.0.10 . tcp . 80": "goto " + web},
			mapServiceNodePorts: {"tcp . 30080": "goto " + webX}},
		chains: map[string][]string{
			webX: {"jump mark-for-masquerade", "goto " + web},
			chainServices: {"ip daddr . meta l4proto . th dport vmap @service-ips",
				"fib daddr type local meta l4proto . th dport vmap @service-nodeports"},
		},
	}, {
		name: "LoadBalancer with the Local policy keeps the client address and uses local endpoints",
		services: []*corev1.Service{service("web", "10.96.0.10", 80, loadBalancer(30080, "127.0.0.100"),
			externalLocal)},
		slices: []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2@n1", "10.1.0.3@n2")},
		want: elems{mapServiceIPs: {"10.96.0.10 . tcp . 80": "goto " + web, "127.0.0.100 . tcp . 80": "goto " + webX},
			mapServiceNodePorts: {"tcp . 30080": "goto " + webX}},
		chains: map[string][]string{
			webX: {"ip saddr 10.1.0.0/16 goto " + web, "fib saddr type local jump mark-for-masquerade",
				"fib saddr type local goto " + web, "goto " + webL},
			webL: {"goto " + epc("10.1.0.2")},
		},
	}, {
		name:     "Local policy without a local endpoint drops external traffic",
		services: []*corev1.Service{service("web", "10.96.0.10", 80, nodePort(30080), externalLocal)},
		slices:   []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.3@n2")},
		want: elems{mapServiceIPs: {"10.96.0.10 . tcp . 80": "goto " + web},
			mapServiceNodePorts: {"tcp . 30080": "goto " + webX}},
		chains: map[string][]string{webX: {"ip saddr 10.1.0.0/16 goto " + web,
			"fib saddr type local jump mark-for-masquerade", "fib saddr type local goto " + web, "drop"}},
		absent: []string{webL},
	}, {
		name: "internal Local policy sends ClusterIP traffic to local endpoints, or drops it",
		services: []*corev1.Service{service("web", "10.96.0.10", 80, internalLocal),
			service("far", "10.96.0.11", 80, internalLocal)},
		slices: []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2@n1", "10.1.0.3@n2"),
			slice("far", "TCP", 8080, "10.1.0.3@n2")},
		want: elems{mapServiceIPs: {"10.96.0.10 . tcp . 80": "goto " + webL},
			mapNoEndpointIPs: {"10.96.0.11 . tcp . 80": "drop"}},
		chains: map[string][]string{webL: {"goto " + epc("10.1.0.2")}},
	}, {
		name:     "NodePort addresses restrict where NodePorts answer",
		services: []*corev1.Service{service("web", "10.96.0.10", 80, nodePort(30080))},
		npCIDRs:  []string{"192.0.2.0/24"},
		want: elems{mapNoEndpointIPs: {"10.96.0.10 . tcp . 80": "goto reject-chain"},
			mapNoEndpointPorts: {"tcp . 30080": "goto reject-chain"}},
		chains: map[string][]string{chainEndpointsChk: {"ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
			"ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports"}},
		sets: []string{setNodePortAddresses},
	}, {
		name:     "an endpoint listed by two slices is used once",
		services: []*corev1.Service{service("web", "10.96.0.10", 80)},
		slices: []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2"),
			func() *discoveryv1.EndpointSlice {
				s := slice("web", "TCP", 8080, "10.1.0.2")
				s.Name = "other"
				return s
			}()},
		want:   elems{mapServiceIPs: {"10.96.0.10 . tcp . 80": "goto " + web}},
		chains: map[string][]string{web: {"ip saddr != 10.1.0.0/16 jump mark-for-masquerade", "goto " + epc("10.1.0.2")}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := Build(State{Services: tt.services, Slices: tt.slices, NodeName: "n1",
				ClusterCIDRs: []string{"10.1.0.0/16"}, NodePortCIDRs: tt.npCIDRs})
			got := elems{}
			for _, m := range []string{mapServiceIPs, mapServiceNodePorts, mapNoEndpointIPs, mapNoEndpointPorts} {
				if len(r.Sets[m].Elements) > 0 {
					got[m] = r.Sets[m].Elements
				}
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("map elements (-want +got):\n%s", diff)
			}
			for name, rules := range tt.chains {
				c := r.Chains[name]
				if c == nil {
					t.Errorf("chain %s missing; have %v", name, nfttable.SortedKeys(r.Chains))
					continue
				}
				if diff := cmp.Diff(rules, c.Rules); diff != "" {
					t.Errorf("chain %s (-want +got):\n%s", name, diff)
				}
			}
			for _, name := range tt.absent {
				if r.Chains[name] != nil {
					t.Errorf("chain %s should not exist", name)
				}
			}
			for _, name := range tt.sets {
				if r.Sets[name] == nil {
					t.Errorf("set %s missing; have %v", name, nfttable.SortedKeys(r.Sets))
				}
			}
		})
	}
}

func TestBuildAffinityDefaultTimeout(t *testing.T) {
	svc := service("web", "10.96.0.10", 80, func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP })
	r, _ := Build(State{Services: []*corev1.Service{svc}, Slices: []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2")}})
	s := r.Sets["aff-default/web/tcp/80/10.1.0.2/8080/10800"]
	if s == nil || s.Timeout != 3*time.Hour {
		t.Fatalf("affinity set = %+v, want a 3h timeout; sets %v", s, nfttable.SortedKeys(r.Sets))
	}
}

func TestBuildUDPFlows(t *testing.T) {
	svc := service("dns", "10.96.0.53", 53, protocol("UDP"), loadBalancer(30053, "127.0.0.100"))
	_, flows := Build(State{Services: []*corev1.Service{svc},
		Slices: []*discoveryv1.EndpointSlice{slice("dns", "UDP", 5353, "10.1.0.2")}})
	want := map[Flow]bool{
		{Dest: "10.96.0.53", Port: 53, Endpoint: "10.1.0.2"}:  true,
		{Dest: "127.0.0.100", Port: 53, Endpoint: "10.1.0.2"}: true,
		{Port: 30053, Endpoint: "10.1.0.2"}:                   true,
	}
	if diff := cmp.Diff(want, flows); diff != "" {
		t.Errorf("flows (-want +got):\n%s", diff)
	}
	stale := staleFlows(flows, map[Flow]bool{{Dest: "10.96.0.53", Port: 53, Endpoint: "10.1.0.2"}: true})
	if len(stale) != 2 {
		t.Errorf("stale = %v, want the LB and NodePort flows", stale)
	}
	if got := conntrackArgs(Flow{Port: 30053, Endpoint: "10.1.0.2"}); cmp.Diff(got,
		[]string{"-D", "-p", "udp", "--orig-port-dst", "30053", "--dst-nat", "10.1.0.2"}) != "" {
		t.Errorf("conntrack args = %v", got)
	}
}
