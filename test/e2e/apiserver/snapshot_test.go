package apiserver_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"skiff/test/e2e/framework"
)

// TestDisasterRecoveryFromASnapshot is the seeds' "restore etcd from backup": a
// snapshot taken by `skiff etcd-snapshot save`, the etcd data lost, and
// `skiff server --cluster-reset --restore` bringing back every object written
// before the snapshot (Secrets still readable) and nothing written after it.
func TestDisasterRecoveryFromASnapshot(t *testing.T) {
	dir := t.TempDir()
	c, err := framework.StartServer(dir, "--disable-agent")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	c.MustKubectl(t, "create", "configmap", "before", "--from-literal=k=v")
	c.MustKubectl(t, "create", "secret", "generic", "pw", "--from-literal=password=s3cret")

	out, err := c.Skiff("etcd-snapshot", "save", "--data-dir", c.Dir)
	if err != nil || !strings.Contains(out, "saved ") {
		t.Fatalf("etcd-snapshot save: %v\n%s", err, out)
	}
	snap := strings.Fields(strings.TrimPrefix(strings.TrimSpace(out), "saved "))[0]
	if out, err := c.Skiff("etcd-snapshot", "list", "--data-dir", c.Dir); err != nil || !strings.Contains(out, filepath.Base(snap)) {
		t.Fatalf("etcd-snapshot list does not show %s: %v\n%s", snap, err, out)
	}
	c.MustKubectl(t, "create", "configmap", "after", "--from-literal=k=v")

	c.Stop()
	if err := os.RemoveAll(filepath.Join(c.Dir, "etcd")); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(false, "--disable-agent", "--cluster-reset", "--restore", snap); err != nil {
		t.Fatal(err)
	}
	if got := c.MustKubectl(t, "get", "configmap", "before", "-o", "jsonpath={.data.k}"); got != "v" {
		t.Errorf("configmap before = %q after the restore", got)
	}
	if got := c.MustKubectl(t, "get", "secret", "pw", "-o", "jsonpath={.data.password}"); got != "czNjcmV0" {
		t.Errorf("secret after the restore = %q, want base64 of s3cret", got)
	}
	if out, err := c.Kubectl("get", "configmap", "after"); err == nil || !strings.Contains(out+err.Error(), "not found") {
		t.Errorf("configmap written after the snapshot survived the restore: %v\n%s", err, out)
	}
	// The restored cluster takes writes again.
	c.MustKubectl(t, "create", "configmap", "later", "--from-literal=k=v")
}
