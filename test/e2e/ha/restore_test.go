package ha_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// TestDisasterRestore: the seeds' "restore from backup". A snapshot is taken
// through s2; every server is then killed and its data dir given up. A new
// server on a fresh data dir (holding only the backed-up tls/ and encryption/
// directories) starts with --cluster-reset --restore on s1's address: every
// object of the snapshot is back (a Secret still decrypts), what was written
// after it is not, the agents find the server again and their nodes turn Ready,
// and the pod that ran all along keeps its container.
//
// It ends the three-server cluster, so it runs last (this file sorts last).
func TestDisasterRestore(t *testing.T) {
	startAgents(t)
	ns := nsFor(t, "disaster")
	runPod(t, ns, "survivor", agent1, "/toolbox", "sleep", "infinity")
	survivor := containers(ns, "survivor")
	kubectl(t, "-n", ns, "create", "configmap", "kept", "--from-literal=k=v")
	kubectl(t, "-n", ns, "create", "secret", "generic", "kept", "--from-literal=k=secret-v")

	out := skiff(t, "etcd-snapshot", "save", "--data-dir", servers[1].Dir)
	m := regexp.MustCompile(`saved (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("etcd-snapshot save: %s", out)
	}
	// Listed through another server, with the server that holds it.
	if out := skiff(t, "etcd-snapshot", "list", "--data-dir", servers[2].Dir); !regexp.MustCompile(regexp.QuoteMeta(filepath.Base(m[1])) + `\s+s2\s`).MatchString(out) {
		t.Errorf("etcd-snapshot list through s3 does not show s2's %s:\n%s", filepath.Base(m[1]), out)
	}
	snapshot := filepath.Join(t.TempDir(), "backup.db")
	if data, err := os.ReadFile(m[1]); err != nil || os.WriteFile(snapshot, data, 0o600) != nil {
		t.Fatalf("copy the snapshot: %v", err)
	}
	kubectl(t, "-n", ns, "create", "configmap", "after-snapshot")

	backup := t.TempDir()
	for _, d := range []string{"tls", "encryption"} {
		if out, err := exec.Command("cp", "-a", filepath.Join(servers[0].Dir, d), backup).CombinedOutput(); err != nil {
			t.Fatalf("back up %s: %v %s", d, err, out)
		}
	}
	for _, s := range servers {
		s.kill()
	}
	down := time.Now()

	fresh := filepath.Join(baseDir, "restored")
	if err := os.MkdirAll(filepath.Join(fresh, "server"), 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", filepath.Join(backup, "tls"), filepath.Join(backup, "encryption"), filepath.Join(fresh, "server")).CombinedOutput(); err != nil {
		t.Fatalf("restore the backed-up files: %v %s", err, out)
	}
	s1 := servers[0]
	restored := &server{Name: "s1", Port: s1.Port, PeerPort: freePort()}
	args := append(restored.args(), "--cluster-reset", "--restore", snapshot)
	c, err := framework.StartServer(fresh, args...)
	if err != nil {
		t.Fatal(err)
	}
	restored.Cluster = c
	servers = append(servers, restored) // stopped with the others when the package ends
	t.Logf("servers killed -> restored server ready after %.1fs", time.Since(down).Seconds())

	if got := restored.MustKubectl(t, "-n", ns, "get", "secret", "kept", "-o", "jsonpath={.data.k}"); got != "c2VjcmV0LXY=" {
		t.Errorf("restored Secret reads %q", got)
	}
	restored.MustKubectl(t, "-n", ns, "get", "configmap", "kept")
	if _, err := restored.Kubectl("-n", ns, "get", "configmap", "after-snapshot"); err == nil {
		t.Error("a ConfigMap created after the snapshot exists after the restore")
	}
	if out := skiff(t, "server", "list", "--data-dir", restored.Dir); strings.Count(strings.TrimSpace(out), "\n") != 1 {
		t.Errorf("the restored cluster should have one member:\n%s", out)
	}
	framework.Eventually(t, 60*time.Second, func() error {
		for _, node := range []string{agent1, agent2} {
			out, err := restored.Kubectl("-n", "kube-node-lease", "get", "lease", node, "-o", "jsonpath={.spec.renewTime}")
			if err != nil {
				return err
			}
			renewed, err := time.Parse(time.RFC3339Nano, out)
			if err != nil || !renewed.After(down) {
				return fmt.Errorf("%s's Lease last renewed at %q", node, out)
			}
			if r, _ := restored.Kubectl("get", "node", node, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`); r != "True" {
				return fmt.Errorf("node %s Ready=%s", node, r)
			}
		}
		return nil
	})
	t.Logf("servers killed -> both agents renewed their Leases with the restored server after %.1fs", time.Since(down).Seconds())
	time.Sleep(5 * time.Second) // let the agents relist and report
	if got, _ := restored.Kubectl("-n", ns, "get", "pod", "survivor", "-o",
		"jsonpath={range .status.containerStatuses[*]}{.containerID}/{.restartCount} {end}"); got != survivor {
		t.Errorf("survivor's containers %s before the disaster, %s after the restore", survivor, got)
	}
}
