package netpol

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

func TestExplain(t *testing.T) {
	tests := []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		from, to *corev1.Pod
		port     int32
		allowed  bool
		want     []string // substrings of the two lines, egress then ingress
	}{{
		name: "no policies", from: client, to: web, port: 8080, allowed: true,
		want: []string{"egress of shop/client: allowed (no NetworkPolicy", "ingress to shop/web: allowed (no NetworkPolicy"},
	}, {
		name:     "deny-all names the policy",
		policies: []*networkingv1.NetworkPolicy{policy("shop", "deny-all", "", types(in))},
		from:     client, to: web, port: 8080,
		want: []string{"allowed (no", "ingress to shop/web: DROPPED: NetworkPolicies deny-all select the pod for ingress and none of their rules allows TCP/8080 with shop/client"},
	}, {
		name: "a named port allows what it names only",
		policies: []*networkingv1.NetworkPolicy{policy("shop", "deny-all", "", types(in)),
			policy("shop", "web", "app=web", ingress(ports("http"), podPeer("role=client")))},
		from: client, to: web, port: 8080, allowed: true,
		want: []string{"allowed (no", "allowed by NetworkPolicy shop/web (ingress rule 0)"},
	}, {
		name:     "the metrics port is not the named http port",
		policies: []*networkingv1.NetworkPolicy{policy("shop", "web", "app=web", ingress(ports("http"), podPeer("role=client")))},
		from:     client, to: web, port: 9090,
		want: []string{"allowed (no", "DROPPED: NetworkPolicies web"},
	}, {
		name:     "egress ipBlock except",
		policies: []*networkingv1.NetworkPolicy{policy("ops", "out", "role=monitor", types(eg), egress(nil, blockPeer("10.0.0.0/8", "10.1.0.2/32")))},
		from:     opsMon, to: web, port: 8080,
		want: []string{"egress of ops/mon: DROPPED: NetworkPolicies out", "allowed (no"},
	}, {
		name:     "egress range by namespace",
		policies: []*networkingv1.NetworkPolicy{policy("ops", "out", "role=monitor", egress(ports("8000-8080"), nsPeer("team=a", "-")))},
		from:     opsMon, to: web, port: 8080, allowed: true,
		want: []string{"allowed by NetworkPolicy ops/out (egress rule 0)", "allowed (no"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := State{NodeName: "n1", Pods: allPods, Namespaces: allNS, Policies: tt.policies}
			allowed, lines := Explain(st, tt.from, tt.to, corev1.ProtocolTCP, tt.port)
			if allowed != tt.allowed {
				t.Errorf("allowed = %v, want %v: %q", allowed, tt.allowed, lines)
			}
			for i, w := range tt.want {
				if !strings.Contains(lines[i], w) {
					t.Errorf("line %d = %q, want it to contain %q", i, lines[i], w)
				}
			}
		})
	}
}
