package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// TestVPAAutoEvicts: in Auto mode the updater evicts, one pod per cycle through the
// eviction API, the pods whose requests are outside the recommended range, and the
// Deployment's replacements get the target from admission.
func TestVPAAutoEvicts(t *testing.T) {
	n := ns(t, "vpa-auto")
	if out, err := cluster.KubectlStdin(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: web
        image: `+toolbox+`
        command: [sleep, "3600"]
        resources:
          requests: {cpu: 10m, memory: 16Mi}
`, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatalf("deployment: %v\n%s", err, out)
	}
	cluster.MustKubectl(t, "-n", n, "rollout", "status", "deploy/web", "--timeout=90s")
	before := strings.Fields(cluster.MustKubectl(t, "-n", n, "get", "pods", "-l", "app=web", "-o", "jsonpath={.items[*].metadata.name}"))
	if out, err := cluster.KubectlStdin(`apiVersion: autoscaling.k8s.io/v1
kind: VerticalPodAutoscaler
metadata: {name: web}
spec:
  targetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  updatePolicy: {updateMode: Auto}
  resourcePolicy:
    containerPolicies:
    - {containerName: web, minAllowed: {cpu: 100m, memory: 50Mi}}
`, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatalf("vpa: %v\n%s", err, out)
	}
	framework.Eventually(t, 150*time.Second, func() error {
		out := cluster.MustKubectl(t, "-n", n, "get", "pods", "-l", "app=web", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.spec.containers[0].resources.requests.memory} {.status.phase}{"\n"}{end}`)
		running := 0
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 || f[2] != "Running" {
				continue
			}
			for _, old := range before {
				if f[0] == old {
					return fmt.Errorf("pod %s from before the VPA is still running:\n%s", old, out)
				}
			}
			if f[1] != "250Mi" {
				return fmt.Errorf("pod %s asks for %s, want the recommendation 250Mi:\n%s", f[0], f[1], out)
			}
			running++
		}
		if running != 2 {
			return fmt.Errorf("%d replacement pods running, want 2:\n%s", running, out)
		}
		return nil
	})
	events := cluster.MustKubectl(t, "-n", n, "get", "events", "--field-selector", "reason=EvictedByVPA")
	for _, old := range before {
		if !strings.Contains(events, old) {
			t.Errorf("no EvictedByVPA event for %s:\n%s", old, events)
		}
	}
}
