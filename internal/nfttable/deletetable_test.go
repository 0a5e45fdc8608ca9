package nfttable

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"sigs.k8s.io/knftables"
)

func TestDeleteTableRemovesRulesAndToleratesAbsence(t *testing.T) {
	if _, err := exec.LookPath("nft"); err != nil || os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatalf("needs root and nft (CI=true, so this is a failure)")
		}
		t.Skip("needs root and nft")
	}
	table := fmt.Sprintf("skiff-test-%d", os.Getpid())
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exec.Command("nft", "delete", "table", "ip", table).Run() })
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{})
	tx.Add(&knftables.Chain{Name: "nat", Type: knftables.PtrTo(knftables.NATType), Hook: knftables.PtrTo(knftables.PreroutingHook), Priority: knftables.PtrTo(knftables.DNATPriority)})
	tx.Add(&knftables.Rule{Chain: "nat", Rule: "ip daddr 10.43.0.99 tcp dport 80 dnat to 10.42.0.99:80"})
	if err := nft.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	if err := DeleteTable(table); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("nft", "list", "table", "ip", table).CombinedOutput(); err == nil {
		t.Fatalf("table %s still exists:\n%s", table, out)
	}
	if err := DeleteTable(table); err != nil {
		t.Fatalf("deleting a missing table: %v", err)
	}
}
