package apiserver_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// TestDiskFullStopsServerWithReason: when etcd cannot write (the data dir's disk is
// full) the server exits non-zero and its log says why, in etcd's own words.
func TestDiskFullStopsServerWithReason(t *testing.T) {
	framework.Require(t, os.Geteuid() == 0, "root (to mount a small tmpfs)")
	dir := t.TempDir()
	data := filepath.Join(dir, "server") // the data dir StartServer uses; the log stays outside
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", data).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v\n%s", err, out)
	}
	srv, err := framework.StartServer(dir, "--disable-agent", "--disable-controllers", "--disable-scheduler")
	if err != nil {
		_ = exec.Command("umount", data).Run()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop()
		_ = exec.Command("umount", data).Run()
	})
	// Fill the disk; etcd's preallocated WAL still has room, its database does not.
	_ = exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(data, "filler"), "bs=1M").Run()
	value := strings.Repeat("0123456789", 70_000)
	for i := 0; i < 30; i++ {
		if _, err := srv.KubectlStdin(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"fill-`+strings.Repeat("x", i+1)+`"},"data":{"v":"`+value+`"}}`, "create", "-f", "-"); err != nil {
			break
		}
	}
	exit, done := srv.Exited(30 * time.Second)
	if !done {
		t.Fatalf("the server still runs on a full disk")
	}
	if exit == nil {
		t.Fatalf("the server exited with status 0 on a full disk")
	}
	logs := srv.Logs()
	if !strings.Contains(logs, "etcd failed, the server stops") || !strings.Contains(logs, "no space left on device") {
		t.Fatalf("the server's log does not say why it stopped:\n%s", logs)
	}
	t.Logf("server exited (%v) and logged why", exit)
}
