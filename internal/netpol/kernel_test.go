package netpol

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"sigs.k8s.io/knftables"

	"skiff/internal/nfttable"
)

// TestRulesLoadIntoKernel loads every kind of rule Build writes into a real table,
// then patches it, so nft's parser judges the syntax the fake accepts. The base
// chains lose their hooks here: the table filters no traffic while it exists.
func TestRulesLoadIntoKernel(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs root and nft (CI=true, so this is a failure)")
		}
		t.Skip("needs root and nft")
	}
	name := fmt.Sprintf("skiff-test-netpol-%d", os.Getpid())
	nft, err := knftables.New(knftables.IPv4Family, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nfttable.DeleteTable(name); err != nil {
			t.Error(err)
		}
	})
	dnsSvc, dnsSlices := dnsState("192.0.2.1", 5353)
	policies := []*networkingv1.NetworkPolicy{
		policy("shop", "a", "app=web", types(in, eg),
			ingress(ports("80", "8000-9000", "http", "/UDP", "3868/SCTP"), podPeer("role=client"), nsPeer("team=b", "-"),
				blockPeer("0.0.0.0/0", "10.0.0.0/8")),
			egress(ports("http", "53/UDP"), blockPeer("10.0.0.0/8", "10.1.0.3/32"), nsPeer("", "k8s-app=kube-dns"))),
		policy("ops", "deny", "", types(in, eg)),
		policy("ops", "any", "", egress(nil)),
	}
	st := State{NodeName: "n1", Pods: allPods, Namespaces: allNS, Policies: policies, DNSService: dnsSvc, DNSSlices: dnsSlices}
	first := unhooked(Build(st))
	st.Policies = policies[:2]
	st.Pods = allPods[1:]
	second := unhooked(Build(st))
	ctx := context.Background()
	for _, step := range [][2]*nfttable.Ruleset{{nil, first}, {first, second}, {second, first}} {
		if _, _, err := nfttable.Apply(ctx, nft, step[0], step[1]); err != nil {
			t.Fatalf("nft refused the table: %v", err)
		}
	}
}

func unhooked(r *nfttable.Ruleset) *nfttable.Ruleset {
	for _, c := range r.Chains {
		c.Hook, c.Type, c.Priority = "", "", 0
	}
	return r
}
