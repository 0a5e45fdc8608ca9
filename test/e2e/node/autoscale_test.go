package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// replicasOf reads a deployment's spec.replicas.
func replicasOf(t *testing.T, n, deploy string) string {
	return strings.TrimSpace(cluster.MustKubectl(t, "-n", n, "get", "deploy", deploy, "-o", "jsonpath={.spec.replicas}"))
}

func waitReplicas(t *testing.T, n, deploy, want string, timeout time.Duration) {
	t.Helper()
	framework.Eventually(t, timeout, func() error {
		if got := replicasOf(t, n, deploy); got != want {
			hpa, _ := cluster.Kubectl("-n", n, "describe", "hpa")
			return fmt.Errorf("deploy/%s has %s replicas, want %s; kubectl describe hpa:\n%s", deploy, got, want, hpa)
		}
		return nil
	})
}

// TestAutoscalerScalesOutUnderLoad is the seeds' HPA session: `kubectl autoscale` a
// Deployment whose pods burn more CPU than their request, and watch it grow to
// its maximum with the reason in the events and the utilization in `get hpa`.
// A scaleUp policy of one pod per 15 s makes the growth two visible steps.
func TestAutoscalerScalesOutUnderLoad(t *testing.T) {
	n := ns(t, "hpa-up")
	cluster.MustKubectl(t, "-n", n, "create", "deployment", "burn", "--image="+toolbox, "--", "/toolbox", "hog-cpu", "--millicores", "60")
	cluster.MustKubectl(t, "-n", n, "set", "resources", "deploy/burn", "--requests=cpu=20m")
	// Created at max 1, so that nothing scales before the policy is in place.
	cluster.MustKubectl(t, "-n", n, "autoscale", "deployment", "burn", "--cpu-percent=50", "--min=1", "--max=1")
	cluster.MustKubectl(t, "-n", n, "patch", "hpa", "burn", "--type=merge", "-p",
		`{"spec":{"maxReplicas":3,"behavior":{"scaleUp":{"stabilizationWindowSeconds":0,"policies":[{"type":"Pods","value":1,"periodSeconds":15}]}}}}`)

	waitReplicas(t, n, "burn", "3", 3*time.Minute)
	steps := cluster.MustKubectl(t, "-n", n, "get", "events", "--field-selector", "reason=SuccessfulRescale")
	if !strings.Contains(steps, "New size: 2;") || !strings.Contains(steps, "New size: 3;") {
		t.Errorf("the scaleUp policy (1 pod per 15 s) should show 1→2→3 as two rescales:\n%s", steps)
	}
	framework.Eventually(t, time.Minute, func() error {
		out := cluster.MustKubectl(t, "-n", n, "get", "hpa", "burn")
		if !strings.Contains(out, "/50%") || strings.Contains(out, "<unknown>") {
			return fmt.Errorf("kubectl get hpa shows no current utilization:\n%s", out)
		}
		return nil
	})
	events := cluster.MustKubectl(t, "-n", n, "get", "events", "--field-selector", "reason=SuccessfulRescale")
	if !strings.Contains(events, "cpu resource utilization (percentage of request) above target") {
		t.Errorf("no SuccessfulRescale event with the reason:\n%s", events)
	}
	desc := cluster.MustKubectl(t, "-n", n, "describe", "hpa", "burn")
	t.Logf("kubectl describe hpa:\n%s", desc)
	for _, want := range []string{"ScalingActive", "ValidMetricFound", "TooManyReplicas"} {
		if !strings.Contains(desc, want) {
			t.Errorf("describe hpa lacks %q", want)
		}
	}
}

// TestAutoscalerScalesInAndHonoursMinReplicas applies the seed's autoscaling/v2beta2
// manifest shape to idle pods: with no scale-down stabilization they shrink to
// minReplicas, and raising minReplicas grows the Deployment at once.
func TestAutoscalerScalesInAndHonoursMinReplicas(t *testing.T) {
	n := ns(t, "hpa-down")
	cluster.MustKubectl(t, "-n", n, "create", "deployment", "idle", "--replicas=3", "--image="+toolbox, "--", "/toolbox", "sleep", "infinity")
	cluster.MustKubectl(t, "-n", n, "set", "resources", "deploy/idle", "--requests=cpu=100m")
	manifest := `apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata:
  name: idle
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: idle
  minReplicas: 1
  maxReplicas: 5
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 70
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 0
`
	if out, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply the v2beta2 HPA: %v\n%s", err, out)
	}
	waitReplicas(t, n, "idle", "1", 3*time.Minute)
	events := cluster.MustKubectl(t, "-n", n, "get", "events", "--field-selector", "reason=SuccessfulRescale")
	if !strings.Contains(events, "All metrics below target") {
		t.Errorf("no SuccessfulRescale event saying why:\n%s", events)
	}

	cluster.MustKubectl(t, "-n", n, "patch", "hpa", "idle", "--type=merge", "-p", `{"spec":{"minReplicas":2}}`)
	waitReplicas(t, n, "idle", "2", time.Minute)
}
