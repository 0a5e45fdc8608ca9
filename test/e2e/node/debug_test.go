package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// TestKubectlDebugAddsEphemeralContainer: `kubectl debug` adds an ephemeral
// container through pods/ephemeralcontainers; the kubelet starts it once, it can be
// exec'd into and its logs read, and the pod's own container is untouched.
func TestKubectlDebugAddsEphemeralContainer(t *testing.T) {
	n := ns(t, "debug")
	cluster.MustKubectl(t, "-n", n, "run", "target", "--image="+toolbox, "--", "sleep", "3600")
	running(t, n, "target")
	gen := get(t, n, "target", "{.metadata.generation}")
	cluster.MustKubectl(t, "-n", n, "debug", "target", "--image="+toolbox, "--container=dbg", "--",
		"sh", "-c", "while true; do echo polo; sleep 2; done")
	waitFor(t, n, "target", `{.status.ephemeralContainerStatuses[?(@.name=="dbg")].state.running.startedAt}`, 60*time.Second,
		func(v string) bool { return v != "" })
	if g := get(t, n, "target", "{.metadata.generation}"); g == gen {
		t.Errorf("generation stayed %s after adding an ephemeral container", g)
	}
	if out := cluster.MustKubectl(t, "-n", n, "exec", "target", "-c", "dbg", "--", "echo", "marco"); !strings.Contains(out, "marco") {
		t.Errorf("exec in the ephemeral container: %q", out)
	}
	framework.Eventually(t, 20*time.Second, func() error {
		if logs, _ := cluster.Kubectl("-n", n, "logs", "target", "-c", "dbg"); !strings.Contains(logs, "polo") {
			return fmt.Errorf("ephemeral container logs: %q", logs)
		}
		return nil
	})
	// Removing it is refused: ephemeral containers are only ever added.
	_, err := cluster.Kubectl("-n", n, "patch", "pod", "target", "--subresource=ephemeralcontainers", "--type=json",
		"-p", `[{"op":"remove","path":"/spec/ephemeralContainers/0"}]`)
	if err == nil || !strings.Contains(err.Error(), "may not be removed") {
		t.Errorf("removing an ephemeral container: %v; want it refused", err)
	}
	if r := get(t, n, "target", "{.status.containerStatuses[0].restartCount}"); r != "0" {
		t.Errorf("the target container restarted %s times", r)
	}
}
