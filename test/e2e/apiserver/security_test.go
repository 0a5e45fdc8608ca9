package apiserver_test

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"skiff/test/e2e/framework"
)

// TestEtcdIsNotReachable: the server listens on its API port only (this cluster runs
// without an agent), so nothing but the API server reaches the embedded etcd, and a
// local user who is not root cannot read etcd's files either.
func TestEtcdIsNotReachable(t *testing.T) {
	server := strings.TrimSpace(cluster.MustKubectl(t, "config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"))
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	ports, err := framework.ListeningTCPPorts(cluster.PID())
	if err != nil {
		t.Fatal(err)
	}
	if want := u.Port(); len(ports) != 1 || strconv.Itoa(ports[0]) != want {
		t.Fatalf("skiff server listens on TCP ports %v, want only the API port %s", ports, want)
	}
	etcdDir := filepath.Join(cluster.Dir, "etcd")
	st, err := os.Stat(etcdDir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("%s has mode %v: other users may enter it", etcdDir, st.Mode().Perm())
	}
	db := filepath.Join(etcdDir, "data", "member", "snap", "db")
	out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "head", "-c", "16", db).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Permission denied") {
		t.Fatalf("user nobody read %s: %v\n%s", db, err, out)
	}
}
