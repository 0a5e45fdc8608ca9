package etcdsnapshot

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"skiff/internal/store"
)

// TestIndexListsEveryServersSnapshots: two servers each record the snapshots in
// their own directory; either lists both servers'; a file pruned on one leaves
// the list at its next sync.
func TestIndexListsEveryServersSnapshots(t *testing.T) {
	ctx := context.Background()
	e, err := store.StartEmbedded(ctx, filepath.Join(t.TempDir(), "etcd"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	index := func(server string, names ...string) *Index {
		dir := t.TempDir()
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("snapshot of "+server), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		x := &Index{KV: e.Client, Server: server, Dir: dir}
		if err := x.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		return x
	}
	s1 := index("s1", "skiff-snapshot-20261207-100000.000.db", "skiff-snapshot-20261207-110000.000.db")
	s2 := index("s2", "skiff-snapshot-20261207-103000.000.db", "not-a-snapshot.txt")
	listed := func(x *Index) []string {
		all, err := x.All(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, i := range all {
			out = append(out, i.Server+"/"+i.Name)
		}
		return out
	}
	want := []string{"s1/skiff-snapshot-20261207-110000.000.db", "s2/skiff-snapshot-20261207-103000.000.db", "s1/skiff-snapshot-20261207-100000.000.db"}
	if diff := cmp.Diff(want, listed(s2)); diff != "" {
		t.Fatalf("listed through s2 (-want +got):\n%s", diff)
	}
	if err := os.Remove(filepath.Join(s1.Dir, "skiff-snapshot-20261207-100000.000.db")); err != nil {
		t.Fatal(err)
	}
	if err := s1.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[:2], listed(s2)); diff != "" {
		t.Fatalf("after s1 pruned one (-want +got):\n%s", diff)
	}
}
