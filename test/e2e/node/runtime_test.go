package node_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// TestContainerdKilledIsRestarted: kill -9 the node's containerd. The node reports
// the runtime unhealthy within 10s, containerd is back within 30s, a running pod
// keeps its container and a new pod starts.
func TestContainerdKilledIsRestarted(t *testing.T) {
	n := ns(t, "runtime")
	cluster.MustKubectl(t, "-n", n, "run", "keeper", "--image="+toolbox, "--", "sleep", "3600")
	running(t, n, "keeper")
	containerID := get(t, n, "keeper", "{.status.containerStatuses[0].containerID}")
	pidFile := filepath.Join(cluster.Dir, "agent", "containerd", "containerd.pid")
	pid := readPID(t, pidFile)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill containerd %d: %v", pid, err)
	}
	killed := time.Now()
	ready := func() string {
		out, _ := cluster.Kubectl("get", "node", "e2e-main", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}/{.status.conditions[?(@.type=="Ready")].reason}`)
		return out
	}
	framework.Eventually(t, 10*time.Second, func() error {
		if got := ready(); got != "False/ContainerRuntimeUnhealthy" {
			return fmt.Errorf("node Ready = %q, want False/ContainerRuntimeUnhealthy", got)
		}
		return nil
	})
	t.Logf("node NotReady %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	framework.Eventually(t, 30*time.Second, func() error {
		if got := ready(); got != "True/KubeletReady" {
			return fmt.Errorf("node Ready = %q, want True again", got)
		}
		return nil
	})
	t.Logf("node Ready again %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	if newPID := readPID(t, pidFile); newPID == pid || syscall.Kill(newPID, 0) != nil {
		t.Fatalf("containerd pid %d -> %d: not restarted", pid, newPID)
	}
	events := cluster.MustKubectl(t, "get", "events", "-A", "--field-selector", "involvedObject.kind=Node,involvedObject.name=e2e-main", "-o", "jsonpath={.items[*].reason}")
	if !strings.Contains(events, "ContainerRuntimeUnhealthy") {
		t.Errorf("no ContainerRuntimeUnhealthy event on the node: %s", events)
	}
	cluster.MustKubectl(t, "-n", n, "run", "after", "--image="+toolbox, "--", "sleep", "3600")
	running(t, n, "after")
	if got := get(t, n, "keeper", "{.status.containerStatuses[0].containerID}"); got != containerID {
		t.Errorf("keeper's container %s replaced by %s", containerID, got)
	}
	if got := get(t, n, "keeper", "{.status.containerStatuses[0].restartCount}"); got != "0" {
		t.Errorf("keeper restarted %s times", got)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestRuntimeClassPicksTheHandler: a pod of a RuntimeClass whose handler is runc
// runs; one whose handler the node lacks does not start, and its event says why.
func TestRuntimeClassPicksTheHandler(t *testing.T) {
	n := ns(t, "rtclass")
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "runtimeclass", "plain", "missing-handler", "--ignore-not-found")
	})
	for name, handler := range map[string]string{"plain": "runc", "missing-handler": "kata"} {
		if _, err := cluster.KubectlStdin("apiVersion: node.k8s.io/v1\nkind: RuntimeClass\nmetadata: {name: "+name+"}\nhandler: "+handler+"\n", "apply", "-f", "-"); err != nil {
			t.Fatal(err)
		}
	}
	pod := func(name, class string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\nspec:\n  runtimeClassName: " + class +
			"\n  containers: [{name: c, image: " + toolbox + ", command: [sleep, '3600']}]\n"
	}
	for name, class := range map[string]string{"ok": "plain", "stuck": "missing-handler"} {
		if _, err := cluster.KubectlStdin(pod(name, class), "-n", n, "create", "-f", "-"); err != nil {
			t.Fatal(err)
		}
	}
	running(t, n, "ok")
	framework.Eventually(t, 60*time.Second, func() error {
		out, _ := cluster.Kubectl("-n", n, "get", "events", "--field-selector", "involvedObject.name=stuck,reason=FailedCreatePodSandBox", "-o", "jsonpath={.items[*].message}")
		if !strings.Contains(out, "kata") {
			return fmt.Errorf("no FailedCreatePodSandBox event naming the handler: %q", out)
		}
		return nil
	})
	if phase := get(t, n, "stuck", "{.status.phase}"); phase != "Pending" {
		t.Errorf("pod of the missing handler is %s, want Pending", phase)
	}
}
