package node_test

import (
	"strings"
	"testing"
	"time"
)

// TestInPlacePodResize: a running container's memory limit and CPU request change
// through pods/resize. The kubelet applies them through the runtime without a
// restart: the container's cgroup shows the new limit and the status reports what the
// container now has. A resize that would change the QoS class is refused.
func TestInPlacePodResize(t *testing.T) {
	n := ns(t, "resize")
	if out, err := cluster.KubectlStdin(`
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers:
  - name: app
    image: `+toolbox+`
    command: [sleep, "3600"]
    resources:
      requests: {cpu: 100m, memory: 32Mi}
      limits: {memory: 64Mi}
`, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatalf("creating the pod: %v\n%s", err, out)
	}
	running(t, n, "app")
	memLimit := func() string {
		out := cluster.MustKubectl(t, "-n", n, "exec", "app", "--", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
		return strings.TrimSpace(out)
	}
	if got := memLimit(); got != "67108864" {
		t.Fatalf("memory.limit_in_bytes before the resize = %s, want 67108864", got)
	}
	waitFor(t, n, "app", "{.status.containerStatuses[0].resources.limits.memory}", 30*time.Second,
		func(v string) bool { return v == "64Mi" })

	cluster.MustKubectl(t, "-n", n, "patch", "pod", "app", "--subresource", "resize", "-p",
		`{"spec":{"containers":[{"name":"app","resources":{"requests":{"cpu":"200m"},"limits":{"memory":"128Mi"}}}]}}`)
	waitFor(t, n, "app", "{.status.containerStatuses[0].resources.limits.memory}", 60*time.Second,
		func(v string) bool { return v == "128Mi" })
	if got := memLimit(); got != "134217728" {
		t.Errorf("memory.limit_in_bytes after the resize = %s, want 134217728", got)
	}
	if got := get(t, n, "app", "{.status.containerStatuses[0].allocatedResources.cpu}"); got != "200m" {
		t.Errorf("allocatedResources.cpu = %q, want 200m", got)
	}
	if r := get(t, n, "app", "{.status.containerStatuses[0].restartCount}"); r != "0" {
		t.Errorf("the container restarted %s times; an in-place resize must not restart it", r)
	}
	if c := get(t, n, "app", `{.status.conditions[?(@.type=="PodResizePending")].reason}`); c != "" {
		t.Errorf("PodResizePending %q after the resize was applied", c)
	}

	// Bad resizes change nothing.
	_, err := cluster.Kubectl("-n", n, "patch", "pod", "app", "--subresource", "resize", "--type=json", "-p",
		`[{"op":"remove","path":"/spec/containers/0/resources/requests"}]`)
	if err == nil || !strings.Contains(err.Error(), "cannot be removed") {
		t.Errorf("removing requests: %v; want it refused", err)
	}
	// A resize the node can never hold waits as Infeasible.
	cluster.MustKubectl(t, "-n", n, "patch", "pod", "app", "--subresource", "resize", "-p",
		`{"spec":{"containers":[{"name":"app","resources":{"requests":{"cpu":"100000"}}}]}}`)
	waitFor(t, n, "app", `{.status.conditions[?(@.type=="PodResizePending")].reason}`, 30*time.Second,
		func(v string) bool { return v == "Infeasible" })
	// The scheduler counts such a pod at what the kubelet allocated, not at what its
	// spec asks, so the node still takes new pods.
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: next}
spec:
  containers:
  - name: app
    image: `+toolbox+`
    command: [sleep, "3600"]
    resources:
      requests: {cpu: 100m, memory: 32Mi}
`)
	waitFor(t, n, "next", "{.spec.nodeName}", 30*time.Second, func(v string) bool { return v != "" })
	if _, err := cluster.Kubectl("-n", n, "patch", "pod", "app", "-p",
		`{"spec":{"containers":[{"name":"app","resources":{"requests":{"cpu":"300m"}}}]}}`); err == nil || !strings.Contains(err.Error(), "may not change fields") {
		t.Errorf("an ordinary pod update of resources: %v; only pods/resize may change them", err)
	}
}
