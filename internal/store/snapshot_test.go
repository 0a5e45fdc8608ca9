package store

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSnapshotRestoreBringsBackTheKeyspace(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	e, err := StartEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Client.Put(ctx, "/before", "1"); err != nil {
		t.Fatal(err)
	}
	snap := filepath.Join(t.TempDir(), "snap.db")
	if n, err := e.Save(ctx, snap); err != nil || n == 0 {
		t.Fatalf("save: %d bytes, %v", n, err)
	}
	put, err := e.Client.Put(ctx, "/after", "2")
	if err != nil {
		t.Fatal(err)
	}
	e.Close()

	// A corrupt snapshot is refused and leaves the member's data as it was.
	bad := filepath.Join(t.TempDir(), "bad.db")
	if err := os.WriteFile(bad, []byte("not a snapshot"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(bad, dir, ""); err == nil {
		t.Fatal("restoring a corrupt snapshot succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "member")); err != nil {
		t.Fatalf("the member's data is gone after a refused restore: %v", err)
	}

	aside, err := Restore(snap, dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(aside); err != nil {
		t.Errorf("the previous data was not kept aside: %v", err)
	}
	e, err = StartEmbedded(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	got, err := e.Client.Get(ctx, "/before")
	if err != nil || len(got.Kvs) != 1 {
		t.Fatalf("/before after restore: %v %v", got, err)
	}
	if got.Header.Revision <= put.Header.Revision {
		t.Errorf("revision after restore %d, want past every revision before it (%d)", got.Header.Revision, put.Header.Revision)
	}
	if got, _ := e.Client.Get(ctx, "/after"); len(got.Kvs) != 0 {
		t.Error("/after, written after the snapshot, survived the restore")
	}
}
