package proxy

import (
	"context"
	"os/exec"
	"testing"

	"sigs.k8s.io/knftables"
)

func TestDeleteTableRemovesRulesAndToleratesAbsence(t *testing.T) {
	requireNetAdmin(t)
	table := "skiff-test-" + randomID(t, 4)
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cleanupRun(t, "nft", "delete", "table", "ip", table) })
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Add(&knftables.Chain{Name: "nat", Type: knftables.PtrTo(knftables.NATType), Hook: knftables.PtrTo(knftables.PreroutingHook), Priority: knftables.PtrTo(knftables.DNATPriority)})
	tx.Add(&knftables.Rule{Chain: "nat", Rule: "ip daddr 10.43.0.99 tcp dport 80 dnat to 10.42.0.99:80"})
	ctx := context.Background()
	if err := nft.Run(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := DeleteTable(ctx, table); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput(); err == nil {
		t.Fatalf("table %s still exists:\n%s", table, out)
	}
	if err := DeleteTable(ctx, table); err != nil {
		t.Fatalf("deleting a missing table: %v", err)
	}
}
