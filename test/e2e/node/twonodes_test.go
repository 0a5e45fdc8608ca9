package node_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// TestSecondNodePodsReachEachOther joins a second agent on this machine and checks that
// pods on the two nodes reach each other by IP.
func TestSecondNodePodsReachEachOther(t *testing.T) {
	startSecondAgent(t, "e2e-two")
	n := ns(t, "twonodes")
	cluster.MustKubectl(t, "-n", n, "run", "server", "--image="+toolbox, "--overrides", `{"spec":{"nodeName":"e2e-two"}}`, "--", "/toolbox", "serve", "--port", "8080")
	ip := running(t, n, "server")
	if node := get(t, n, "server", "{.spec.nodeName}"); node != "e2e-two" {
		t.Fatalf("server pod on %s", node)
	}
	cluster.MustKubectl(t, "-n", n, "run", "client", "--image="+toolbox, "--overrides", `{"spec":{"nodeName":"e2e-main"}}`, "--",
		"sh", "-c", fmt.Sprintf("while true; do /toolbox wget -qO- -T 2 http://%s:8080/hostname; echo; sleep 1; done", ip))
	running(t, n, "client")
	framework.Eventually(t, 30*time.Second, func() error {
		logs, _ := cluster.Kubectl("-n", n, "logs", "client")
		if !strings.Contains(logs, "server") {
			return fmt.Errorf("client on e2e-main did not reach %s on e2e-two: %q", ip, logs)
		}
		return nil
	})
	out := cluster.MustKubectl(t, "get", "nodes")
	if !strings.Contains(out, "e2e-two") || !strings.Contains(out, "control-plane") {
		t.Fatalf("nodes:\n%s", out)
	}
}

// startSecondAgent joins another node to the cluster for the rest of the test;
// when the test ends it stops, its pods and network are removed, and the Node
// object is deleted so later pods are not scheduled onto it.
func startSecondAgent(t *testing.T, name string, extraArgs ...string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "skiff-e2e-"+name+"-")
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--cluster-cidr", clusterCIDR, "--service-cidr", serviceCIDR}, extraArgs...)
	agent, err := cluster.StartAgent(dir, name, args...)
	if err != nil {
		os.RemoveAll(dir)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		agent.Stop()
		agent.Reset()
		os.RemoveAll(dir)
		_, _ = cluster.Kubectl("delete", "node", name)
	})
}
