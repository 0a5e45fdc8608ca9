package encryption

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/client-go/kubernetes/scheme"

	"skiff/internal/store"
)

var secrets = schema.GroupResource{Resource: "secrets"}

type cluster struct {
	etcd    *store.Etcd
	store   *store.Store
	secrets *store.Resource
	cms     *store.Resource
	t       *Transformers
	dir     string
}

func newCluster(t testing.TB, encrypt bool) *cluster {
	dir := t.TempDir()
	ctx := context.Background()
	e, err := store.StartEmbedded(ctx, filepath.Join(dir, "etcd"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	path := DefaultConfigPath(dir)
	if err := EnsureDefault(path); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config %s: %v %v, want mode 0600", path, st.Mode(), err)
	}
	tr, err := Load(ctx, path, dir)
	if err != nil {
		t.Fatal(err)
	}
	s := store.New(e.Client, scheme.Scheme)
	if encrypt {
		s.EncryptWith(tr)
	}
	c := &cluster{etcd: e, store: s, t: tr, dir: dir,
		secrets: s.Register(secrets, corev1.SchemeGroupVersion),
		cms:     s.Register(schema.GroupResource{Resource: "configmaps"}, corev1.SchemeGroupVersion)}
	return c
}

func (c *cluster) raw(t testing.TB, key string) []byte {
	resp, err := c.etcd.Client.Get(context.Background(), key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("etcd get %s: %v %v", key, resp, err)
	}
	return resp.Kvs[0].Value
}

func secret(name, value string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Data: map[string][]byte{"v": []byte(value)}}
}

func (c *cluster) read(t *testing.T, name string) string {
	obj, err := c.secrets.Get(context.Background(), "ns", name)
	if err != nil {
		t.Fatalf("read secret %s: %v", name, err)
	}
	return string(obj.(*corev1.Secret).Data["v"])
}

func TestSecretsAreEncryptedAndConfigMapsAreNot(t *testing.T) {
	c := newCluster(t, true)
	ctx := context.Background()
	if _, err := c.secrets.Create(ctx, secret("s", "hunter2-distinctive"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}, Data: map[string]string{"v": "plain-config"}}, 0); err != nil {
		t.Fatal(err)
	}
	raw := c.raw(t, c.secrets.Key("ns", "s"))
	if !bytes.HasPrefix(raw, []byte("k8s:enc:aesgcm:v1:key-")) || bytes.Contains(raw, []byte("hunter2")) {
		t.Fatalf("secret stored as %q", raw)
	}
	if !bytes.Contains(c.raw(t, c.cms.Key("ns", "c")), []byte("plain-config")) {
		t.Fatal("configmap was encrypted though the configuration names only secrets")
	}
	if got := c.read(t, "s"); got != "hunter2-distinctive" {
		t.Fatalf("read back %q", got)
	}
}

// A value encrypted for one key must not decrypt when copied under another.
func TestCiphertextIsBoundToItsKey(t *testing.T) {
	c := newCluster(t, true)
	ctx := context.Background()
	if _, err := c.secrets.Create(ctx, secret("a", "x"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.etcd.Client.Put(ctx, c.secrets.Key("ns", "b"), string(c.raw(t, c.secrets.Key("ns", "a")))); err != nil {
		t.Fatal(err)
	}
	if _, err := c.secrets.Get(ctx, "ns", "b"); err == nil {
		t.Fatal("a ciphertext moved to another key decrypted")
	}
}

func TestRotateKeyRewritesEverySecret(t *testing.T) {
	c := newCluster(t, true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// One Secret written before encryption existed, as plain protobuf.
	var buf bytes.Buffer
	enc := runtime.WithVersionEncoder{Version: corev1.SchemeGroupVersion, Encoder: protobuf.NewSerializer(scheme.Scheme, scheme.Scheme), ObjectTyper: scheme.Scheme}
	if err := enc.Encode(secret("legacy", "old-plain"), &buf); err != nil {
		t.Fatal(err)
	}
	if _, err := c.etcd.Client.Put(ctx, c.secrets.Key("ns", "legacy"), buf.String()); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b", "c"} {
		if _, err := c.secrets.Create(ctx, secret(n, "value-"+n), 0); err != nil {
			t.Fatal(err)
		}
	}
	go c.store.Run(ctx)
	<-c.store.Ready()
	go c.t.Run(ctx, c.store.RewriteStale)
	before, _ := readConfig(DefaultConfigPath(c.dir))
	oldKey := before.Resources[0].Providers[0].AESGCM.Keys[0].Name
	var out strings.Builder
	if err := Rotate(ctx, &out, c.dir, DefaultConfigPath(c.dir), time.Minute); err != nil {
		t.Fatalf("rotate: %v\n%s", err, out.String())
	}
	after, _ := readConfig(DefaultConfigPath(c.dir))
	keys := after.Resources[0].Providers[0].AESGCM.Keys
	if len(keys) != 1 || keys[0].Name == oldKey {
		t.Fatalf("keys after rotation %v, want one new key (old %s)", keys, oldKey)
	}
	for _, n := range []string{"legacy", "a", "b", "c"} {
		raw := c.raw(t, c.secrets.Key("ns", n))
		if !bytes.HasPrefix(raw, []byte("k8s:enc:aesgcm:v1:"+keys[0].Name+":")) {
			t.Errorf("secret %s stored as %.40q, want the new key's prefix", n, raw)
		}
	}
	if got := c.read(t, "legacy"); got != "old-plain" {
		t.Errorf("legacy secret reads %q", got)
	}
	if got := c.read(t, "b"); got != "value-b" {
		t.Errorf("secret b reads %q", got)
	}
}

func TestRotateWithoutServerTimesOutKeepingOldKey(t *testing.T) {
	dir := t.TempDir()
	path := DefaultConfigPath(dir)
	if err := EnsureDefault(path); err != nil {
		t.Fatal(err)
	}
	err := Rotate(context.Background(), io.Discard, dir, path, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "is `skiff server --data-dir") {
		t.Fatalf("rotate without a server: %v", err)
	}
	cfg, _ := readConfig(path)
	if n := len(cfg.Resources[0].Providers[0].AESGCM.Keys); n != 2 {
		t.Fatalf("%d keys left after a failed rotation, want both", n)
	}
}
