package apiserver_test

import (
	"bytes"
	"encoding/base64"
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

// TestSecretsEncryptedAtRest: a Secret's value appears nowhere under the data dir
// (etcd's bbolt file and WAL included), neither plain nor in base64, while kubectl
// reads it; after `skiff secrets rotate-key` every Secret still reads.
func TestSecretsEncryptedAtRest(t *testing.T) {
	n := ns(t, "vault")
	const value = "sup3r-s3cret-skiff-e2e-value"
	cluster.MustKubectl(t, "-n", n, "create", "secret", "generic", "db", "--from-literal=password="+value)
	cluster.MustKubectl(t, "-n", n, "create", "secret", "generic", "other", "--from-literal=k=v2-"+value)
	encoded := base64.StdEncoding.EncodeToString([]byte(value))
	if got := jsonpath(t, "{.data.password}", "-n", n, "get", "secret", "db"); got != encoded {
		t.Fatalf("kubectl reads password %q, want %q", got, encoded)
	}
	assertNotOnDisk := func() {
		t.Helper()
		err := filepath.WalkDir(cluster.Dir, func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err // directories and the etcd peer socket hold no data
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, v := range []string{value, encoded} {
				if bytes.Contains(data, []byte(v)) {
					t.Errorf("%s holds the secret's value %q", path, v)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	assertNotOnDisk()
	bin, err := framework.Binary()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "secrets", "rotate-key", "--data-dir", cluster.Dir, "--timeout", "1m").CombinedOutput()
	if err != nil {
		t.Fatalf("rotate-key: %v\n%s", err, out)
	}
	t.Logf("rotate-key:\n%s", out)
	if got := jsonpath(t, "{.data.password}", "-n", n, "get", "secret", "db"); got != encoded {
		t.Fatalf("after rotation kubectl reads password %q, want %q", got, encoded)
	}
	if got := jsonpath(t, "{.data.k}", "-n", n, "get", "secret", "other"); got != base64.StdEncoding.EncodeToString([]byte("v2-"+value)) {
		t.Fatalf("after rotation secret other reads %q", got)
	}
	// Every Secret in the cluster still reads after the old key is gone.
	cluster.MustKubectl(t, "get", "secrets", "-A", "-o", "yaml")
	assertNotOnDisk()
}

// TestKubectlPatchCannotChangeKind: the patch a user would type gets a 422 that
// names the field, and the ConfigMap stays a ConfigMap.
func TestKubectlPatchCannotChangeKind(t *testing.T) {
	n := ns(t, "retype")
	cluster.MustKubectl(t, "-n", n, "create", "configmap", "x", "--from-literal=k=v")
	_, err := cluster.Kubectl("-n", n, "patch", "cm", "x", "--type=json", "-p", `[{"op":"replace","path":"/kind","value":"Secret"}]`)
	if err == nil || !strings.Contains(err.Error(), "is invalid: kind: Invalid value: \"Secret\"") {
		t.Fatalf("kubectl patch of kind: %v, want 422 naming kind", err)
	}
	if got := jsonpath(t, "{.data.k}", "-n", n, "get", "cm", "x"); got != "v" {
		t.Fatalf("configmap after the refused patch has k=%q", got)
	}
}
