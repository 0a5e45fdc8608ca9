package cluster_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// Two pools behind a taint (so the other tests' pods stay off them), both labelled
// autoscale=e2e. 200 pods of 100m/128Mi: ca-big-0 (the big pool's min node, 8 cpu)
// takes 80, and the other 120 need 6 small nodes (2 cpu: 20 pods each, memory 62%
// used) or 2 big ones (memory 23% used): least waste picks small, 0->6.
var autoscalerPools = []string{
	"--pool", "name=small,cpu=2,memory=4Gi,min=0,max=10,labels=autoscale=e2e,taints=autoscale=e2e:NoSchedule",
	"--pool", "name=big,cpu=8,memory=32Gi,min=1,max=20,labels=autoscale=e2e,taints=autoscale=e2e:NoSchedule",
}

const autoscaleLoad = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: load}
spec:
  replicas: 200
  selector: {matchLabels: {app: load}}
  template:
    metadata: {labels: {app: load}}
    spec:
      nodeSelector: {autoscale: e2e}
      tolerations: [{key: autoscale, operator: Exists, effect: NoSchedule}]
      containers:
      - name: c
        image: skiff.local/pause:1
        resources: {requests: {cpu: 100m, memory: 128Mi}}
`

// guard prefers small nodes but can run on big ones; its PDB allows no eviction.
const autoscaleGuard = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: guard}
spec:
  replicas: 1
  selector: {matchLabels: {app: guard}}
  template:
    metadata: {labels: {app: guard}}
    spec:
      nodeSelector: {autoscale: e2e}
      tolerations: [{key: autoscale, operator: Exists, effect: NoSchedule}]
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            preference: {matchExpressions: [{key: skiff.io/node-pool, operator: In, values: [small]}]}
      containers: [{name: c, image: skiff.local/pause:1}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: guard}
spec:
  maxUnavailable: 0
  selector: {matchLabels: {app: guard}}
`

func poolDesired(pool string) string {
	out, _ := cluster.Kubectl("-n", "kube-system", "get", "configmap", "skiff-node-pools",
		"-o", "jsonpath={.data.desired\\."+pool+"}")
	return out
}

func poolNodeNames(t *testing.T, pool string) []string {
	out := cluster.MustKubectl(t, "get", "nodes", "-l", "skiff.io/node-pool="+pool, "-o", "jsonpath={.items[*].metadata.name}")
	return strings.Fields(out)
}

func TestClusterAutoscalerPools(t *testing.T) {
	sim, err := cluster.StartSkiff(filepath.Join(dir, "simulate-pools.log"),
		append([]string{"simulate", "--nodes", "0", "--name-prefix", "ca-", "--pod-cidr", "10.80.0.0/16"}, autoscalerPools...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sim.Stop()
		_, _ = cluster.Kubectl("delete", "nodes", "-l", "skiff.io/node-pool", "--wait=false")
		_, _ = cluster.Kubectl("-n", "kube-system", "delete", "configmap", "skiff-node-pools", "cluster-autoscaler-status")
	})
	framework.Eventually(t, 30*time.Second, func() error {
		_, err := cluster.Kubectl("-n", "kube-system", "patch", "configmap", "skiff-node-pools", "--type", "merge", "-p",
			`{"data":{"scan-interval":"1s","scale-down-unneeded-time":"5s","new-pod-scale-up-delay":"3s"}}`)
		return err
	})
	if err := cluster.WaitNodeReady("ca-big-0"); err != nil {
		t.Fatal(err)
	}
	n := ns(t, "autoscale")
	if _, err := cluster.KubectlStdin(autoscaleLoad, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}

	// One step: the small pool goes 0->6 and every scale-up event says so.
	framework.Eventually(t, 60*time.Second, func() error {
		if got := poolDesired("small"); got != "6" {
			return fmt.Errorf("desired small = %q, want 6", got)
		}
		ready, _ := cluster.Kubectl("-n", n, "get", "deployment", "load", "-o", "jsonpath={.status.readyReplicas}")
		if ready != "200" {
			return fmt.Errorf("load ready replicas %q", ready)
		}
		return nil
	})
	if got := poolDesired("big"); got != "1" {
		t.Errorf("desired big = %q, want 1", got)
	}
	msgs := cluster.MustKubectl(t, "-n", n, "get", "events", "--field-selector", "reason=TriggeredScaleUp",
		"-o", "jsonpath={range .items[*]}{.message}{\"\\n\"}{end}")
	distinct := map[string]bool{}
	for _, m := range strings.Split(strings.TrimSpace(msgs), "\n") {
		distinct[m] = true
	}
	if want := "pod triggered scale-up: [{small 0->6 (max: 10)}]"; len(distinct) != 1 || !distinct[want] {
		t.Errorf("TriggeredScaleUp messages %q, want only %q", msgs, want)
	}
	status := cluster.MustKubectl(t, "-n", "kube-system", "get", "configmap", "cluster-autoscaler-status", "-o", "jsonpath={.data.status}")
	if !strings.Contains(status, "Name:        small") || !strings.Contains(status, "cloudProviderTarget=6 (minSize=0, maxSize=10)") {
		t.Errorf("status:\n%s", status)
	}

	// A guard pod on a small node, under a PDB that allows no disruption, keeps that
	// node while the load is deleted and every other small node goes.
	if _, err := cluster.KubectlStdin(autoscaleGuard, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	guardPod := strings.TrimSpace(cluster.MustKubectl(t, "-n", n, "wait", "--for=condition=Ready", "pod", "-l", "app=guard",
		"--timeout=30s", "-o", "name"))
	guarded := nodeOf(t, n, strings.TrimPrefix(guardPod, "pod/"))
	if !strings.HasPrefix(guarded, "ca-small-") {
		t.Fatalf("guard landed on %s, want a small node", guarded)
	}
	cluster.MustKubectl(t, "-n", n, "delete", "deployment", "load")
	framework.Eventually(t, 60*time.Second, func() error {
		if got := poolNodeNames(t, "small"); len(got) != 1 || got[0] != guarded || poolDesired("small") != "1" {
			return fmt.Errorf("small nodes %v (desired %s), want only %s", got, poolDesired("small"), guarded)
		}
		return nil
	})
	time.Sleep(8 * time.Second) // past the unneeded time: the PDB still holds the node
	if got := poolNodeNames(t, "small"); len(got) != 1 || got[0] != guarded {
		t.Fatalf("small nodes %v while the PDB forbids eviction, want %s", got, guarded)
	}
	// The planner sees the budget and keeps the node without trying (a tried and
	// refused eviction would also have made the other nodes wait for the guard).
	kept := cluster.MustKubectl(t, "-n", "kube-system", "get", "configmap", "cluster-autoscaler-status", "-o", "jsonpath={.data.status}")
	if !strings.Contains(kept, guarded+": pod "+n+"/") || !strings.Contains(kept, "is protected by PodDisruptionBudget guard") {
		t.Errorf("the status does not say why %s is kept:\n%s", guarded, kept)
	}

	// Without the PDB the guard moves to the big node and the small pool reaches min.
	cluster.MustKubectl(t, "-n", n, "delete", "pdb", "guard")
	framework.Eventually(t, 60*time.Second, func() error {
		if got := poolNodeNames(t, "small"); len(got) != 0 || poolDesired("small") != "0" {
			return fmt.Errorf("small nodes %v (desired %s), want none", got, poolDesired("small"))
		}
		return nil
	})
	if got := poolNodeNames(t, "big"); len(got) != 1 {
		t.Errorf("big nodes %v, want its min of 1", got)
	}
	scaleDowns := cluster.MustKubectl(t, "get", "events", "-A", "--field-selector", "reason=ScaleDown", "-o", "name")
	if len(strings.Fields(scaleDowns)) < 6 {
		t.Errorf("ScaleDown events: %q, want one per removed node", scaleDowns)
	}
}
