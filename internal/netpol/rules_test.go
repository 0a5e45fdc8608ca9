package netpol

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"

	"skiff/internal/nfttable"
)

// The cluster of every case: node n1 (whose table is built) and n2; namespaces
// shop and ops.
var (
	web    = pod("shop/web@n1 10.1.0.2 app=web", "http:TCP:8080", "metrics:TCP:9090")
	api    = pod("shop/api@n1 10.1.0.3 app=api", "http:TCP:8000")
	client = pod("shop/client@n2 10.2.0.4 role=client")
	opsCli = pod("ops/client@n2 10.2.0.5 role=client")
	opsMon = pod("ops/mon@n1 10.1.0.6 role=monitor")
	hostP  = func() *corev1.Pod {
		p := pod("ops/agent@n1 192.0.2.1 role=client")
		p.Spec.HostNetwork = true
		return p
	}()
	donePod = func() *corev1.Pod {
		p := pod("shop/done@n1 10.1.0.9 app=web")
		p.Status.Phase = corev1.PodSucceeded
		return p
	}()
	allPods = []*corev1.Pod{web, api, client, opsCli, opsMon, hostP, donePod}
	allNS   = []*corev1.Namespace{namespace("shop", "team", "a"), namespace("ops", "team", "b"), namespace("kube-system")}
)

func TestBuild(t *testing.T) {
	dnsSvc, dnsSlices := dnsState("192.0.2.1", 5353)
	tests := []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		dns      bool
		sets     map[string][]string // exact elements of these sets
		chains   map[string][]string // exact rules of these chains
		absent   []string            // sets that must not exist
	}{{
		name: "no policy isolates nothing",
		sets: map[string][]string{setIngressIsolated: nil, setEgressIsolated: nil},
		chains: map[string][]string{chainIngress: {"drop"}, chainEgress: {"drop"},
			"egress-forward": {"ct state established,related accept", "ip saddr @egress-isolated jump egress"}},
	}, {
		name:     "deny-all ingress isolates the namespace's local pods, finished ones aside",
		policies: []*networkingv1.NetworkPolicy{policy("shop", "deny", "", types(in))},
		sets: map[string][]string{setIngressIsolated: {"10.1.0.2", "10.1.0.3"}, setEgressIsolated: nil,
			"pods-shop/deny": {"10.1.0.2", "10.1.0.3"}},
		chains: map[string][]string{chainIngress: {"ip daddr @pods-shop/deny jump in-shop/deny", "drop"},
			"in-shop/deny": nil, chainEgress: {"drop"}},
	}, {
		name:     "policy types default from the rules: egress rules isolate egress too",
		policies: []*networkingv1.NetworkPolicy{policy("shop", "p", "app=api", egress(nil))},
		sets:     map[string][]string{setIngressIsolated: {"10.1.0.3"}, setEgressIsolated: {"10.1.0.3"}},
		chains:   map[string][]string{"eg-shop/p": {"accept", "ip daddr . meta l4proto . th dport @eg-shop/p/0/dest accept"}},
	}, {
		name: "pod selector peers stay in the policy's namespace; hostNetwork pods are never peers",
		policies: []*networkingv1.NetworkPolicy{policy("shop", "p", "app=web", types(in),
			ingress(ports("80", "8000-9000", "53/UDP"), podPeer("role=client")))},
		sets: map[string][]string{"in-shop/p/0/peers": {"10.2.0.4"}, "pods-shop/p": {"10.1.0.2"}},
		chains: map[string][]string{"in-shop/p": {
			"ip saddr @in-shop/p/0/peers meta l4proto tcp th dport { 80, 8000-9000 } accept",
			"ip saddr @in-shop/p/0/peers meta l4proto udp th dport { 53 } accept"}},
		absent: []string{"in-shop/p/0/named", "in-shop/p/0/blocks"},
	}, {
		name: "namespace selector alone, and with a pod selector",
		policies: []*networkingv1.NetworkPolicy{
			policy("shop", "a", "app=web", types(in), ingress(nil, nsPeer("team=b", "-"))),
			policy("shop", "b", "app=api", types(in), ingress(nil, nsPeer("team=b", "role=client"))),
			policy("shop", "c", "app=api", types(in), ingress(nil, nsPeer("", "role=client"))),
		},
		sets: map[string][]string{"in-shop/a/0/peers": {"10.1.0.6", "10.2.0.5"}, "in-shop/b/0/peers": {"10.2.0.5"},
			"in-shop/c/0/peers": {"10.2.0.4", "10.2.0.5"}},
		chains: map[string][]string{"in-shop/a": {"ip saddr @in-shop/a/0/peers accept"},
			chainIngress: {"ip daddr @pods-shop/a jump in-shop/a", "ip daddr @pods-shop/b jump in-shop/b",
				"ip daddr @pods-shop/c jump in-shop/c", "drop"}},
	}, {
		name: "named ports are looked up in each target pod",
		policies: []*networkingv1.NetworkPolicy{policy("shop", "p", "", types(in),
			ingress(ports("http", "metrics/UDP", "443"), podPeer("")))},
		sets: map[string][]string{"in-shop/p/0/named": {"10.1.0.2 . tcp . 8080", "10.1.0.3 . tcp . 8000"}},
		chains: map[string][]string{"in-shop/p": {
			"ip saddr @in-shop/p/0/peers meta l4proto tcp th dport { 443 } accept",
			"ip daddr . meta l4proto . th dport @in-shop/p/0/named ip saddr @in-shop/p/0/peers accept"}},
	}, {
		name: "ipBlock with except becomes disjoint ranges, merged across peers",
		policies: []*networkingv1.NetworkPolicy{policy("shop", "p", "app=web", types(in),
			ingress(nil, blockPeer("10.0.0.0/8", "10.1.0.0/16", "10.2.3.4/32"), blockPeer("10.1.2.0/24"),
				blockPeer("fd00::/8"), podPeer("role=client")))},
		sets: map[string][]string{"in-shop/p/0/blocks": {"10.0.0.0-10.0.255.255", "10.1.2.0-10.1.2.255",
			"10.2.0.0-10.2.3.3", "10.2.3.5-10.255.255.255"}},
		chains: map[string][]string{"in-shop/p": {"ip saddr @in-shop/p/0/peers accept", "ip saddr @in-shop/p/0/blocks accept"}},
	}, {
		name: "egress named ports are looked up in the destination pods the peers cover",
		policies: []*networkingv1.NetworkPolicy{policy("ops", "p", "role=monitor", types(eg),
			egress(ports("http"), blockPeer("10.1.0.0/16", "10.1.0.3/32")))},
		sets: map[string][]string{setEgressIsolated: {"10.1.0.6"}, setIngressIsolated: nil,
			"eg-ops/p/0/dest": {"10.1.0.2 . tcp . 8080"}},
		chains: map[string][]string{"eg-ops/p": {"ip daddr . meta l4proto . th dport @eg-ops/p/0/dest accept"}},
	}, {
		name:     "egress deny-all blocks the cluster DNS too",
		dns:      true,
		policies: []*networkingv1.NetworkPolicy{policy("ops", "deny", "", types(eg))},
		sets:     map[string][]string{setEgressIsolated: {"10.1.0.6"}},
		chains:   map[string][]string{"eg-ops/deny": nil},
	}, {
		name: "the allow-DNS policy reaches the DNS on its own port",
		dns:  true,
		policies: []*networkingv1.NetworkPolicy{policy("ops", "dns", "", types(eg),
			egress(ports("53/UDP", "53"), nsPeer("kubernetes.io/metadata.name=kube-system", "k8s-app=kube-dns")))},
		sets: map[string][]string{"eg-ops/dns/0/peers": nil,
			"eg-ops/dns/0/dest": {"192.0.2.1 . tcp . 5353", "192.0.2.1 . udp . 5353"}},
	}, {
		name: "egress to any destination on port 53 covers the DNS; other ports do not",
		dns:  true,
		policies: []*networkingv1.NetworkPolicy{policy("ops", "a", "", types(eg), egress(ports("53/UDP"))),
			policy("ops", "b", "", types(eg), egress(ports("80")))},
		sets: map[string][]string{"eg-ops/a/0/dest": {"192.0.2.1 . udp . 5353"}, "eg-ops/b/0/dest": nil},
		chains: map[string][]string{"eg-ops/a": {"meta l4proto udp th dport { 53 } accept",
			"ip daddr . meta l4proto . th dport @eg-ops/a/0/dest accept"}},
	}, {
		name: "a port name that no pod has matches nothing",
		policies: []*networkingv1.NetworkPolicy{policy("shop", "p", "", types(in, eg),
			ingress(ports("nope")), egress(ports("nope/SCTP")))},
		sets: map[string][]string{"in-shop/p/0/named": nil, "eg-shop/p/0/dest": nil},
		chains: map[string][]string{"in-shop/p": {"ip daddr . meta l4proto . th dport @in-shop/p/0/named accept"},
			"eg-shop/p": {"ip daddr . meta l4proto . th dport @eg-shop/p/0/dest accept"}},
	}, {
		name: "SCTP and a whole protocol",
		policies: []*networkingv1.NetworkPolicy{policy("shop", "p", "app=web", types(in),
			ingress(ports("/UDP", "9/UDP", "3868/SCTP")))},
		chains: map[string][]string{"in-shop/p": {"meta l4proto udp accept", "meta l4proto sctp th dport { 3868 } accept"}},
	}, {
		name:     "a policy of another namespace selects none of these pods",
		policies: []*networkingv1.NetworkPolicy{policy("empty", "deny", "", types(in, eg))},
		sets:     map[string][]string{"pods-empty/deny": nil, setIngressIsolated: nil, setEgressIsolated: nil},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := State{NodeName: "n1", Pods: allPods, Namespaces: allNS, Policies: tt.policies}
			if tt.dns {
				st.DNSService, st.DNSSlices = dnsSvc, dnsSlices
			}
			r := Build(st)
			for name, want := range tt.sets {
				s := r.Sets[name]
				if s == nil {
					t.Errorf("set %s missing; have %v", name, nfttable.SortedKeys(r.Sets))
					continue
				}
				if diff := cmp.Diff(want, nfttable.SortedKeys(s.Elements)); diff != "" {
					t.Errorf("set %s (-want +got):\n%s", name, diff)
				}
			}
			for name, want := range tt.chains {
				c := r.Chains[name]
				if c == nil {
					t.Errorf("chain %s missing; have %v", name, nfttable.SortedKeys(r.Chains))
					continue
				}
				if diff := cmp.Diff(want, c.Rules); diff != "" {
					t.Errorf("chain %s (-want +got):\n%s", name, diff)
				}
			}
			for _, name := range tt.absent {
				if r.Sets[name] != nil {
					t.Errorf("set %s should not exist", name)
				}
			}
		})
	}
}

// A DNS endpoint that is a pod is that pod, not a stand-in.
func TestDNSPodEndpointIsNotVirtual(t *testing.T) {
	svc, slices := dnsState("10.1.0.6", 53)
	slices[0].Endpoints[0].TargetRef = &corev1.ObjectReference{Kind: "Pod", Name: "mon", Namespace: "ops"}
	if got := dnsMembers(svc, slices); len(got) != 0 {
		t.Errorf("members = %v, want none", got)
	}
	other := &discoveryv1.EndpointSlice{AddressType: discoveryv1.AddressTypeIPv6}
	if got := dnsMembers(svc, []*discoveryv1.EndpointSlice{other}); len(got) != 0 {
		t.Errorf("IPv6 slice gave members %v", got)
	}
}

func TestBlockRanges(t *testing.T) {
	tests := []struct {
		name  string
		peers []networkingv1.NetworkPolicyPeer
		want  []string
	}{
		{"everything but private ranges", []networkingv1.NetworkPolicyPeer{blockPeer("0.0.0.0/0", "10.0.0.0/8", "192.168.0.0/16")},
			[]string{"0.0.0.0-9.255.255.255", "11.0.0.0-192.167.255.255", "192.169.0.0-255.255.255.255"}},
		{"adjacent blocks merge", []networkingv1.NetworkPolicyPeer{blockPeer("10.0.0.0/25"), blockPeer("10.0.0.128/25")},
			[]string{"10.0.0.0-10.0.0.255"}},
		{"a host and the top of the range", []networkingv1.NetworkPolicyPeer{blockPeer("10.0.0.7/32"), blockPeer("255.255.255.0/24", "255.255.255.255/32")},
			[]string{"10.0.0.7", "255.255.255.0-255.255.255.254"}},
		{"an unparsable or IPv6 block allows nothing", []networkingv1.NetworkPolicyPeer{blockPeer("10.0.0.0/33"), blockPeer("::/0")}, nil},
		{"an except that covers the block leaves nothing", []networkingv1.NetworkPolicyPeer{blockPeer("10.0.0.0/24", "10.0.0.0/23")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, r := range blockRanges(tt.peers) {
				got = append(got, r.element())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestSamePolicyView(t *testing.T) {
	relabelled := web.DeepCopy()
	relabelled.Labels["app"] = "api"
	ready := web.DeepCopy()
	ready.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	finished := web.DeepCopy()
	finished.Status.Phase = corev1.PodFailed
	moved := web.DeepCopy()
	moved.Status.PodIP = "10.1.0.99"
	for _, tt := range []struct {
		name string
		b    *corev1.Pod
		want bool
	}{{"status condition only", ready, true}, {"labels", relabelled, false}, {"finished", finished, false}, {"new IP", moved, false}} {
		if got := samePolicyView(web, tt.b); got != tt.want {
			t.Errorf("%s: same = %v, want %v", tt.name, got, tt.want)
		}
	}
}
