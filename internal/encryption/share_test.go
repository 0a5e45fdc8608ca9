package encryption

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apiserver/pkg/server/options/encryptionconfig"

	"skiff/internal/store"
)

// TestShareKeepsServersAlike: two servers on one etcd, each with a
// configuration of its own. The first publishes its own; the second takes it,
// sealed (no key in clear in etcd). A rotation written to the first server's file
// reaches the second. "Applied" is recorded only once every member has applied.
func TestShareKeepsServersAlike(t *testing.T) {
	ctx := context.Background()
	e, err := store.StartEmbedded(ctx, filepath.Join(t.TempDir(), "etcd"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	members, err := e.Client.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	self := members.Members[0].Name
	newServer := func(member string) *Share {
		dir := t.TempDir()
		s := &Share{Etcd: e.Client, Member: member, Secret: "join-secret", Path: DefaultConfigPath(dir), DataDir: dir}
		if err := EnsureDefault(s.Path); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := newServer(self), newServer("other")
	read := func(s *Share) []byte {
		data, err := os.ReadFile(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if bytes.Equal(read(a), read(b)) {
		t.Fatal("two fresh configurations are alike")
	}
	first := read(a)
	for _, s := range []*Share{a, b} {
		if err := s.Pull(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(read(b), first) || !bytes.Equal(read(a), first) {
		t.Fatal("the second server did not take the first one's configuration")
	}
	raw, err := e.Client.Get(ctx, sharedConfigKey)
	if err != nil || len(raw.Kvs) != 1 {
		t.Fatalf("the cluster's copy: %v %v", raw, err)
	}
	cfg, _ := readConfig(a.Path)
	if secret := cfg.Resources[0].Providers[0].AESGCM.Keys[0].Secret; bytes.Contains(raw.Kvs[0].Value, []byte(secret)) {
		t.Fatal("the key is stored in clear in etcd")
	}

	// A rotation's first step, written on a.
	aes, _ := secretsKeys(cfg)
	key, _ := newKey()
	aes.Keys = append(aes.Keys, key)
	if err := writeConfig(a.Path, cfg); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Share{a, b} {
		if err := s.step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(read(b), read(a)) || bytes.Equal(read(a), first) {
		t.Fatal("the rotated configuration did not reach the second server")
	}

	hash, err := encryptionconfig.GetEncryptionConfigHash(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.recordClusterApplied(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(appliedPath(a.DataDir)); err == nil {
		t.Fatal("applied recorded before the member applied it")
	}
	if err := a.MemberApplied(ctx, hash); err != nil {
		t.Fatal(err)
	}
	if err := a.recordClusterApplied(ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(appliedPath(a.DataDir)); err != nil || string(got) != hash {
		t.Fatalf("applied file %q (%v), want %q", got, err, hash)
	}
}
