package node_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/internal/kubelet/stats"
	"skiff/test/e2e/framework"
)

// memoryAvailable is the machine's memory.available as the agent computes it:
// capacity less the root cgroup's working set.
func memoryAvailable(t *testing.T) int64 {
	t.Helper()
	n, err := stats.NodeSource{CgroupRoot: "/sys/fs/cgroup", ProcRoot: "/proc", FsPath: "/"}.Node(context.Background())
	if err != nil {
		t.Fatalf("reading the machine's memory: %v", err)
	}
	return int64(n.MemoryCapacity) - int64(n.WorkingSet)
}

const guaranteedPod = `apiVersion: v1
kind: Pod
metadata:
  name: steady
spec:
  nodeName: e2e-evict
  containers:
  - name: steady
    image: skiff.local/toolbox:1
    command: ["/toolbox", "serve", "--port", "8080"]
    resources:
      requests: {cpu: 50m, memory: 64Mi}
      limits: {cpu: 50m, memory: 64Mi}
`

// TestMemoryPressureEvictsBestEffortFirst gives a second node a memory threshold
// just under what the machine has free now, then lets a BestEffort pod allocate
// past it: the agent reports MemoryPressure and evicts that pod, and the Guaranteed
// pod beside it keeps running. The margin (2 GiB below the threshold before the hog,
// 1.5 GiB past it after) keeps other work on the machine from deciding the outcome.
func TestMemoryPressureEvictsBestEffortFirst(t *testing.T) {
	const margin, hogMiB = 2048 << 20, 3584
	threshold := memoryAvailable(t) - margin
	if threshold < 512<<20 {
		t.Fatalf("the machine has too little free memory for this test: %d MiB", (threshold+margin)>>20)
	}
	startSecondAgent(t, "e2e-evict", "--eviction-hard", fmt.Sprintf("memory.available<%dMi", threshold>>20),
		"--eviction-pressure-transition-period", "60s")
	n := ns(t, "evict")
	if out, err := cluster.KubectlStdin(guaranteedPod, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	running(t, n, "steady")
	if q := get(t, n, "steady", "{.status.qosClass}"); q != "Guaranteed" {
		t.Fatalf("steady is %s", q)
	}
	cluster.MustKubectl(t, "-n", n, "run", "hog", "--image="+toolbox, "--overrides", `{"spec":{"nodeName":"e2e-evict"}}`,
		"--", "/toolbox", "hog-memory", "--mb", fmt.Sprint(hogMiB), "--step", "64")

	waitFor(t, n, "hog", "{.status.reason}", 120*time.Second, equals("Evicted"))
	if msg := get(t, n, "hog", "{.status.message}"); !strings.Contains(msg, "The node was low on resource: memory.") {
		t.Errorf("eviction message = %q", msg)
	}
	if phase := get(t, n, "hog", "{.status.phase}"); phase != "Failed" {
		t.Errorf("evicted pod phase = %s, want Failed", phase)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		out, _ := cluster.Kubectl("-n", n, "get", "events", "--field-selector", "reason=Evicted,involvedObject.name=hog", "-o", "name")
		if strings.TrimSpace(out) == "" {
			return fmt.Errorf("no Evicted event for hog")
		}
		return nil
	})
	// The pressure condition stays on for the transition period (60s here), time
	// enough for the node lifecycle controller to taint the node.
	framework.Eventually(t, 30*time.Second, func() error {
		cond, _ := cluster.Kubectl("get", "node", "e2e-evict", "-o", `jsonpath={.status.conditions[?(@.type=="MemoryPressure")].status}`)
		taints, _ := cluster.Kubectl("get", "node", "e2e-evict", "-o", "jsonpath={.spec.taints[*].key}")
		if cond != "True" || !strings.Contains(taints, "node.kubernetes.io/memory-pressure") {
			return fmt.Errorf("MemoryPressure=%q taints=%q", cond, taints)
		}
		return nil
	})
	if phase := get(t, n, "steady", "{.status.phase}"); phase != "Running" {
		t.Errorf("the Guaranteed pod is %s after the eviction, want Running", phase)
	}
}
