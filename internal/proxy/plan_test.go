package proxy

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/knftables"

	"skiff/internal/nfttable"
)

// steps is a history of cluster states, each a small change from the last.
var steps = []struct {
	name     string
	services []*corev1.Service
	slices   []*discoveryv1.EndpointSlice
}{
	{"empty", nil, nil},
	{"service without endpoints",
		[]*corev1.Service{service("web", "10.96.0.10", 80, nodePort(30080), affinity(60))}, nil},
	{"two endpoints",
		[]*corev1.Service{service("web", "10.96.0.10", 80, nodePort(30080), affinity(60))},
		[]*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2@n1", "10.1.0.3@n2")}},
	{"a second service",
		[]*corev1.Service{service("web", "10.96.0.10", 80, nodePort(30080), affinity(60)),
			service("dns", "10.96.0.53", 53, protocol("UDP"))},
		[]*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2@n1", "10.1.0.3@n2"),
			slice("dns", "UDP", 53, "10.1.0.4@n1")}},
	{"scaled down, Local policy, new timeout",
		[]*corev1.Service{service("web", "10.96.0.10", 80, nodePort(30080), affinity(30), externalLocal),
			service("dns", "10.96.0.53", 53, protocol("UDP"))},
		[]*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2@n1"),
			slice("dns", "UDP", 53, "10.1.0.4@n1")}},
	{"first service deleted",
		[]*corev1.Service{service("dns", "10.96.0.53", 53, protocol("UDP"))},
		[]*discoveryv1.EndpointSlice{slice("dns", "UDP", 53, "10.1.0.4@n1")}},
	{"empty again", nil, nil},
}

func stepRules(i int) *nfttable.Ruleset {
	r, _ := Build(State{Services: steps[i].services, Slices: steps[i].slices, NodeName: "n1",
		ClusterCIDRs: []string{"10.1.0.0/16"}})
	return r
}

func apply(t *testing.T, nft *knftables.Fake, old, want *nfttable.Ruleset) *knftables.Transaction {
	t.Helper()
	tx := nft.NewTransaction()
	if !nfttable.Plan(tx, old, want) {
		t.Fatalf("plan refused to patch")
	}
	if err := nft.Run(context.Background(), tx); err != nil {
		t.Fatalf("transaction failed: %v\n%s", err, tx)
	}
	return tx
}

// Patching the table step by step must give exactly what building it from scratch
// gives.
func TestPlanPatchesLikeARebuild(t *testing.T) {
	patched := knftables.NewFake(knftables.IPv4Family, "t")
	var old *nfttable.Ruleset
	for i, step := range steps {
		want := stepRules(i)
		apply(t, patched, old, want)
		fresh := knftables.NewFake(knftables.IPv4Family, "t")
		apply(t, fresh, nil, want)
		if diff := cmp.Diff(fresh.Dump(), patched.Dump()); diff != "" {
			t.Fatalf("step %q: patched table differs from a rebuild (-rebuild +patched):\n%s", step.name, diff)
		}
		old = want
	}
}

func TestPlanUnchangedIsNoop(t *testing.T) {
	nft := knftables.NewFake(knftables.IPv4Family, "t")
	r := stepRules(3)
	apply(t, nft, nil, r)
	if tx := apply(t, nft, r, stepRules(3)); tx.NumOperations() != 1 {
		t.Errorf("an unchanged state gave %d operations, want only the idempotent add table:\n%s", tx.NumOperations(), tx)
	}
}

// A scale-down touches the service's chain and the removed endpoint only; the
// affinity memory of the other endpoint survives.
func TestPlanKeepsAffinityState(t *testing.T) {
	nft := knftables.NewFake(knftables.IPv4Family, "t")
	before := stepRules(2)
	apply(t, nft, nil, before)
	aff := "aff-default/web/tcp/80/10.1.0.2/8080/60"
	tx := nft.NewTransaction()
	tx.Add(&knftables.Element{Set: aff, Key: []string{"192.0.2.7"}})
	if err := nft.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	after, _ := Build(State{Services: steps[2].services, NodeName: "n1", ClusterCIDRs: []string{"10.1.0.0/16"},
		Slices: []*discoveryv1.EndpointSlice{slice("web", "TCP", 8080, "10.1.0.2@n1")}})
	tx = apply(t, nft, before, after)
	if nft.Table.Sets[aff].FindElement("192.0.2.7") == nil {
		t.Errorf("affinity entry lost by the sync:\n%s", tx)
	}
	if strings.Contains(tx.String(), "10.96.0.10") {
		t.Errorf("the ClusterIP element was rewritten although it did not change:\n%s", tx)
	}
}

func TestPlanRefusesRedefinition(t *testing.T) {
	old, want := stepRules(1), stepRules(1)
	want.Chains["nat-output"].Priority = -99
	if nfttable.Plan(knftables.NewFake(knftables.IPv4Family, "t").NewTransaction(), old, want) {
		t.Errorf("plan patched a base chain whose priority changed")
	}
}
