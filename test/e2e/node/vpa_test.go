package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// seedVPA is the seeds' VerticalPodAutoscaler, with the update mode as a parameter.
const seedVPA = `apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata:
  name: nginx-vpa
spec:
  targetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: nginx
  updatePolicy:
    updateMode: "%s"
  resourcePolicy:
    containerPolicies:
    - containerName: nginx
      minAllowed:
        cpu: 100m
        memory: 50Mi
      maxAllowed:
        cpu: 1
        memory: 500Mi
`

// TestVerticalPodAutoscaler is the seeds' VPA session on idle pods that ask for far
// less than the VPA's floor (100m CPU by the policy, 250Mi memory by the
// recommender's pod minimum). The recommendation shows in `kubectl get vpa`;
// Initial gives a new pod the target and leaves running ones alone; InPlaceOrRecreate
// then resizes a running pod without restarting it (its limit keeps its ratio, and
// the container's cgroup shows it). The server runs the recommender every 5s
// (--vpa-recommender-interval in TestMain).
func TestVerticalPodAutoscaler(t *testing.T) {
	n := ns(t, "vpa")
	if out, err := cluster.KubectlStdin(`apiVersion: apps/v1
kind: Deployment
metadata: {name: nginx}
spec:
  replicas: 2
  selector: {matchLabels: {app: nginx}}
  template:
    metadata: {labels: {app: nginx}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: nginx
        image: `+toolbox+`
        command: [sleep, "3600"]
        resources:
          requests: {cpu: 10m, memory: 16Mi}
          limits: {memory: 64Mi}
`, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatalf("deployment: %v\n%s", err, out)
	}
	cluster.MustKubectl(t, "-n", n, "rollout", "status", "deploy/nginx", "--timeout=90s")
	if out, err := cluster.KubectlStdin(fmt.Sprintf(seedVPA, "Initial"), "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatalf("kubectl apply of the seed's VPA: %v\n%s", err, out)
	}
	framework.Eventually(t, 90*time.Second, func() error {
		out := cluster.MustKubectl(t, "-n", n, "get", "vpa")
		if !strings.Contains(out, "MODE") || !strings.Contains(out, "Initial") || !strings.Contains(out, "100m") || !strings.Contains(out, "True") {
			return fmt.Errorf("kubectl get vpa has no recommendation yet:\n%s", out)
		}
		return nil
	})
	t.Logf("kubectl get vpa:\n%s", cluster.MustKubectl(t, "-n", n, "get", "vpa"))
	framework.Eventually(t, 15*time.Second, func() error {
		if out := cluster.MustKubectl(t, "-n", n, "get", "vpacheckpoint"); !strings.Contains(out, "nginx-vpa-nginx") {
			return fmt.Errorf("no checkpoint for the nginx container:\n%s", out)
		}
		return nil
	})
	upper := cluster.MustKubectl(t, "-n", n, "get", "vpa", "nginx-vpa", "-o", "jsonpath={.status.recommendation.containerRecommendations[0].upperBound.cpu}")
	if upper != "1" {
		t.Errorf("upperBound.cpu = %q, want the policy's maxAllowed 1", upper)
	}

	pods := strings.Fields(cluster.MustKubectl(t, "-n", n, "get", "pods", "-l", "app=nginx", "-o", "jsonpath={.items[*].metadata.name}"))
	if len(pods) != 2 {
		t.Fatalf("pods: %v", pods)
	}
	// Initial: a replacement pod gets the target; the other keeps what it had.
	cluster.MustKubectl(t, "-n", n, "delete", "pod", pods[0], "--wait=false")
	var fresh string
	framework.Eventually(t, 60*time.Second, func() error {
		for _, p := range strings.Fields(cluster.MustKubectl(t, "-n", n, "get", "pods", "-l", "app=nginx", "-o", "jsonpath={.items[*].metadata.name}")) {
			if p != pods[0] && p != pods[1] {
				fresh = p
				return nil
			}
		}
		return fmt.Errorf("no replacement pod yet")
	})
	if got := get(t, n, fresh, "{.spec.containers[0].resources.requests.cpu} {.spec.containers[0].resources.requests.memory}"); got != "100m 250Mi" {
		t.Errorf("new pod's requests = %q, want the recommendation 100m 250Mi", got)
	}
	if a := get(t, n, fresh, "{.metadata.annotations.vpaUpdates}"); !strings.Contains(a, "nginx-vpa") {
		t.Errorf("new pod lacks the vpaUpdates annotation: %q", a)
	}
	if got := get(t, n, pods[1], "{.spec.containers[0].resources.requests.memory}"); got != "16Mi" {
		t.Errorf("Initial changed a running pod's memory request to %s", got)
	}

	// InPlaceOrRecreate: the running pod is resized where it is, without a restart.
	uid := get(t, n, pods[1], "{.metadata.uid}")
	cluster.MustKubectl(t, "-n", n, "patch", "vpa", "nginx-vpa", "--type=merge", "-p", `{"spec":{"updatePolicy":{"updateMode":"InPlaceOrRecreate"}}}`)
	waitFor(t, n, pods[1], "{.status.containerStatuses[0].resources.requests.memory}", 90*time.Second, equals("250Mi"))
	if got := get(t, n, pods[1], "{.metadata.uid} {.status.containerStatuses[0].restartCount}"); got != uid+" 0" {
		t.Errorf("pod uid and restarts = %q, want %q: the resize must happen in place", got, uid+" 0")
	}
	// 64Mi limit on a 16Mi request: ×4 again on the 250Mi request.
	out := cluster.MustKubectl(t, "-n", n, "exec", pods[1], "--", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes")
	if got := strings.TrimSpace(out); got != fmt.Sprint(1000<<20) {
		t.Errorf("memory.limit_in_bytes = %s, want %d (the limit keeps its 4:1 ratio)", got, 1000<<20)
	}
	events := cluster.MustKubectl(t, "-n", n, "get", "events", "--field-selector", "reason=InPlaceResizedByVPA")
	if !strings.Contains(events, pods[1]) {
		t.Errorf("no InPlaceResizedByVPA event for %s:\n%s", pods[1], events)
	}
}

// TestVPAOnMissingTarget: a VPA whose target does not exist says so in a condition.
func TestVPAOnMissingTarget(t *testing.T) {
	n := ns(t, "vpa-missing")
	if out, err := cluster.KubectlStdin(fmt.Sprintf(seedVPA, "Auto"), "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	framework.Eventually(t, 60*time.Second, func() error {
		out := cluster.MustKubectl(t, "-n", n, "get", "vpa", "nginx-vpa", "-o",
			`jsonpath={.status.conditions[?(@.type=="ConfigUnsupported")].status} {.status.conditions[?(@.type=="ConfigUnsupported")].message}`)
		if !strings.HasPrefix(out, "True") || !strings.Contains(out, "Deployment/nginx") {
			return fmt.Errorf("ConfigUnsupported condition: %q", out)
		}
		return nil
	})
	if _, err := cluster.KubectlStdin(strings.Replace(fmt.Sprintf(seedVPA, "Sometimes"), "nginx-vpa", "bad-vpa", 1), "-n", n, "apply", "-f", "-"); err == nil ||
		!strings.Contains(err.Error(), "updateMode") {
		t.Errorf("an unknown update mode was accepted: %v", err)
	}
}
