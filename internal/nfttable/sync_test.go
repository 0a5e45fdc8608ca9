package nfttable

import (
	"context"
	"testing"

	"sigs.k8s.io/knftables"
)

func table(elements ...string) *Ruleset {
	r := New()
	r.Chains["filter"] = &Chain{Hook: knftables.ForwardHook, Type: knftables.FilterType, Rules: []string{"ip daddr @allowed accept"}}
	r.Sets["allowed"] = &Set{Type: "ipv4_addr", Elements: map[string]string{}}
	for _, e := range elements {
		r.AddElement("allowed", e, "")
	}
	return r
}

func TestApply(t *testing.T) {
	ctx := context.Background()
	nft := knftables.NewFake(knftables.IPv4Family, "t")
	if _, full, err := Apply(ctx, nft, nil, table("10.0.0.1")); err != nil || !full {
		t.Fatalf("first apply: full=%v err=%v, want a full load", full, err)
	}
	ops, full, err := Apply(ctx, nft, table("10.0.0.1"), table("10.0.0.2"))
	if err != nil || full || ops != 3 { // add table, delete one element, add one
		t.Fatalf("element change: ops=%d full=%v err=%v, want a 3-operation patch", ops, full, err)
	}
	if nft.Table.Sets["allowed"].FindElement("10.0.0.2") == nil || nft.Table.Sets["allowed"].FindElement("10.0.0.1") != nil {
		t.Errorf("set not patched:\n%s", nft.Dump())
	}
	if ops, _, _ := Apply(ctx, nft, table("10.0.0.2"), table("10.0.0.2")); ops != 0 {
		t.Errorf("an unchanged table sent %d operations", ops)
	}
	moved := table("10.0.0.2")
	moved.Chains["filter"].Priority = 10
	if _, full, err := Apply(ctx, nft, table("10.0.0.2"), moved); err != nil || !full {
		t.Errorf("a base chain's new priority: full=%v err=%v, want a rebuild", full, err)
	}
	if err := Delete(nft); err != nil || nft.Table != nil {
		t.Errorf("delete: %v, table %v", err, nft.Table)
	}
	if err := Delete(nft); err != nil {
		t.Errorf("deleting a missing table: %v", err)
	}
}
