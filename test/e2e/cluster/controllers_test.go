package cluster_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

func jsonpath(t *testing.T, path string, args ...string) string {
	t.Helper()
	return cluster.MustKubectl(t, append(args, "-o", "jsonpath="+path)...)
}

func waitJSON(t *testing.T, timeout time.Duration, path, want string, args ...string) {
	t.Helper()
	framework.Eventually(t, timeout, func() error {
		got, _ := cluster.Kubectl(append(args, "-o", "jsonpath="+path)...)
		if got != want {
			return fmt.Errorf("%s %s = %q, want %q", strings.Join(args, " "), path, got, want)
		}
		return nil
	})
}

// TestZeroDowntimeRollout rolls the seed's maxSurge 1 / maxUnavailable 0 Deployment from
// v1 to v2 while a watch checks that ready replicas never drop below the desired 5.
func TestZeroDowntimeRollout(t *testing.T) {
	n := ns(t, "rollout")
	cluster.MustKubectl(t, "-n", n, "apply", "-f", filepath.Join("..", "testdata", "seeds", "deployment-rolling.yaml"))
	waitJSON(t, 60*time.Second, "{.status.readyReplicas}", "5", "-n", n, "get", "deploy", "nginx-deployment")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, framework.Kubectl, "-n", n, "get", "deploy", "nginx-deployment", "-w", "--no-headers",
		"-o", "custom-columns=READY:.status.readyReplicas,UPDATED:.status.updatedReplicas")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	minReady, seen := 5, 0
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			f := strings.Fields(s.Text())
			if len(f) < 1 {
				continue
			}
			r, err := strconv.Atoi(f[0])
			if err != nil {
				r = 0
			}
			mu.Lock()
			seen++
			minReady = min(minReady, r)
			mu.Unlock()
		}
	}()
	time.Sleep(time.Second)
	cluster.MustKubectl(t, "-n", n, "set", "image", "deploy/nginx-deployment", "nginx=skiff.local/toolbox:latest")
	cluster.MustKubectl(t, "-n", n, "rollout", "status", "deploy/nginx-deployment", "--timeout=120s")
	time.Sleep(time.Second)
	cancel()
	_ = cmd.Wait()
	mu.Lock()
	if seen < 2 || minReady < 5 {
		t.Errorf("during the rollout ready replicas went down to %d (of %d observations); maxUnavailable 0 allows none", minReady, seen)
	}
	mu.Unlock()
	if img := jsonpath(t, "{.spec.template.spec.containers[0].image}", "-n", n, "get", "deploy", "nginx-deployment"); img != "skiff.local/toolbox:latest" {
		t.Fatalf("image after rollout = %s", img)
	}
	if rs := cluster.MustKubectl(t, "-n", n, "get", "rs", "--no-headers"); strings.Count(strings.TrimSpace(rs), "\n") != 1 {
		t.Fatalf("want two ReplicaSets (old scaled to 0, new):\n%s", rs)
	}
	hist := cluster.MustKubectl(t, "-n", n, "rollout", "history", "deploy/nginx-deployment")
	if !strings.Contains(hist, "1") || !strings.Contains(hist, "2") {
		t.Fatalf("rollout history:\n%s", hist)
	}
	cluster.MustKubectl(t, "-n", n, "rollout", "undo", "deploy/nginx-deployment")
	cluster.MustKubectl(t, "-n", n, "rollout", "status", "deploy/nginx-deployment", "--timeout=120s")
	waitJSON(t, 30*time.Second, "{.spec.template.spec.containers[0].image}", "skiff.local/toolbox:1", "-n", n, "get", "deploy", "nginx-deployment")

	// Pause stops a rollout midway; resume finishes it.
	cluster.MustKubectl(t, "-n", n, "rollout", "pause", "deploy/nginx-deployment")
	cluster.MustKubectl(t, "-n", n, "set", "image", "deploy/nginx-deployment", "nginx=skiff.local/toolbox:latest")
	time.Sleep(3 * time.Second)
	if upd := jsonpath(t, "{.status.updatedReplicas}", "-n", n, "get", "deploy", "nginx-deployment"); upd == "5" {
		t.Fatalf("a paused deployment rolled out")
	}
	cluster.MustKubectl(t, "-n", n, "rollout", "resume", "deploy/nginx-deployment")
	cluster.MustKubectl(t, "-n", n, "rollout", "status", "deploy/nginx-deployment", "--timeout=120s")
}

func TestReplicaSetHealsAndScales(t *testing.T) {
	n := ns(t, "rs")
	cluster.MustKubectl(t, "-n", n, "apply", "-f", filepath.Join("..", "testdata", "seeds", "replicaset-example.yaml"))
	waitJSON(t, 60*time.Second, "{.status.readyReplicas}", "3", "-n", n, "get", "rs", "example-replicaset")
	victim := strings.Fields(cluster.MustKubectl(t, "-n", n, "get", "pods", "-o", "name"))[0]
	cluster.MustKubectl(t, "-n", n, "delete", victim)
	framework.Eventually(t, 30*time.Second, func() error {
		out, _ := cluster.Kubectl("-n", n, "get", "pods", "-o", "name")
		names := strings.Fields(out)
		if len(names) != 3 || strings.Contains(out, victim) {
			return fmt.Errorf("pods after deleting %s: %v", victim, names)
		}
		return nil
	})
	for _, r := range []string{"10", "2"} {
		cluster.MustKubectl(t, "-n", n, "scale", "rs", "example-replicaset", "--replicas="+r)
		waitJSON(t, 60*time.Second, "{.status.readyReplicas}", r, "-n", n, "get", "rs", "example-replicaset")
		framework.Eventually(t, 30*time.Second, func() error {
			out, _ := cluster.Kubectl("-n", n, "get", "pods", "-o", "name")
			if got := len(strings.Fields(out)); strconv.Itoa(got) != r {
				return fmt.Errorf("%d pods, want %s", got, r)
			}
			return nil
		})
	}
}

func TestStatefulSetOrderedCreationAndReverseDeletion(t *testing.T) {
	n := ns(t, "sts")
	manifest := `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: c, image: skiff.local/toolbox:1}]
`
	if _, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	waitJSON(t, 90*time.Second, "{.status.readyReplicas}", "3", "-n", n, "get", "sts", "web")
	created := map[string]string{}
	for _, p := range []string{"web-0", "web-1", "web-2"} {
		created[p] = jsonpath(t, "{.metadata.creationTimestamp}", "-n", n, "get", "pod", p)
		if h := jsonpath(t, "{.spec.hostname}/{.spec.subdomain}", "-n", n, "get", "pod", p); h != p+"/web" {
			t.Errorf("pod %s hostname/subdomain %q", p, h)
		}
	}
	if !(created["web-0"] <= created["web-1"] && created["web-1"] <= created["web-2"]) {
		t.Errorf("pods not created in order: %v", created)
	}
	cluster.MustKubectl(t, "-n", n, "scale", "sts", "web", "--replicas=1")
	waitJSON(t, 60*time.Second, "{.status.replicas}", "1", "-n", n, "get", "sts", "web")
	if _, err := cluster.Kubectl("-n", n, "get", "pod", "web-0"); err != nil {
		t.Errorf("scale down removed web-0: %v", err)
	}
}

// TestSeedStatefulSetGetsStorage applies the seed's mongodb StatefulSet: each
// ordinal's claim takes the default class local-path, waits for its pod to be
// placed, and is provisioned on that pod's node, so all three replicas come up in
// order, each with its own Bound volume pinned to its node.
func TestSeedStatefulSetGetsStorage(t *testing.T) {
	n := ns(t, "mongo")
	cluster.MustKubectl(t, "-n", n, "apply", "-f", filepath.Join("..", "testdata", "seeds", "statefulset-mongodb.yaml"))
	waitJSON(t, 90*time.Second, "{.status.readyReplicas}", "3", "-n", n, "get", "sts", "mongodb")
	for i := range 3 {
		claim := fmt.Sprintf("mongo-data-mongodb-%d", i)
		out := cluster.MustKubectl(t, "-n", n, "get", "pvc", claim, "-o",
			`jsonpath={.status.phase} {.spec.storageClassName} {.spec.volumeName} {.metadata.annotations.volume\.kubernetes\.io/selected-node}`)
		f := strings.Fields(out)
		if len(f) != 4 || f[0] != "Bound" || f[1] != "local-path" {
			t.Fatalf("claim %s: %q, want Bound local-path <volume> <node>", claim, out)
		}
		node := cluster.MustKubectl(t, "-n", n, "get", "pod", fmt.Sprintf("mongodb-%d", i), "-o", "jsonpath={.spec.nodeName}")
		pinned := cluster.MustKubectl(t, "get", "pv", f[2], "-o", "jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]}")
		if node != f[3] || pinned != node {
			t.Errorf("claim %s: selected node %s, volume pinned to %s, pod on %s", claim, f[3], pinned, node)
		}
	}
}

func TestDaemonSetCoversEveryNodeIncludingNewOnes(t *testing.T) {
	n := ns(t, "ds")
	manifest := `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      tolerations: [{operator: Exists}]
      containers: [{name: c, image: skiff.local/toolbox:1}]
`
	if _, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	waitJSON(t, 60*time.Second, "{.status.numberReady}", "4", "-n", n, "get", "ds", "agent")
	p, err := cluster.StartSkiff(filepath.Join(dir, "simulate-late.log"), "simulate", "--nodes", "1", "--name-prefix", "late-", "--pod-cidr", "10.66.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Stop()
		_, _ = cluster.Kubectl("delete", "node", "late-0")
	})
	waitJSON(t, 60*time.Second, "{.status.numberReady}", "5", "-n", n, "get", "ds", "agent")
	framework.Eventually(t, 30*time.Second, func() error {
		out, _ := cluster.Kubectl("-n", n, "get", "pods", "-o", "jsonpath={.items[*].spec.nodeName}")
		if !strings.Contains(out, "late-0") {
			return fmt.Errorf("no daemon pod on the new node: %s", out)
		}
		return nil
	})
}
