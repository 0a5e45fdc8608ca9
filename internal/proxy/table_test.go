package proxy

import (
	"context"
	"testing"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"sigs.k8s.io/knftables"
)

// TestDeletedTableIsRebuilt: with nothing changed in the API, a sync patches
// nothing, so a table someone deleted would stay deleted; the table check finds
// it missing and the next sync builds it again.
func TestDeletedTableIsRebuilt(t *testing.T) {
	ctx := context.Background()
	nft := knftables.NewFake(knftables.IPv4Family, "skiff-proxy-n1")
	p, err := newProxier(informers.NewSharedInformerFactory(fake.NewClientset(), 0), Config{NodeName: "n1"}, nft)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.sync(ctx); err != nil {
		t.Fatal(err)
	}
	built := nft.Dump()
	if p.checkTable(ctx) {
		t.Fatal("the table is reported missing right after it was built")
	}
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil {
		t.Fatal(err)
	}
	if err := p.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if nft.Table != nil {
		t.Fatal("a plain sync rebuilt the table: the check below proves nothing")
	}
	if !p.checkTable(ctx) {
		t.Fatal("the deleted table is not reported missing")
	}
	if err := p.sync(ctx); err != nil {
		t.Fatal(err)
	}
	if got := nft.Dump(); got != built {
		t.Fatalf("rebuilt table differs:\n%s\nwant:\n%s", got, built)
	}
}
