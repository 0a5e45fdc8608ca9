package node_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// millicores reads kubectl top's CPU column ("250m", or "1" for whole cores).
func millicores(s string) (int, error) {
	if v, ok := strings.CutSuffix(s, "m"); ok {
		return strconv.Atoi(v)
	}
	n, err := strconv.Atoi(s)
	return n * 1000, err
}

// topRow finds the kubectl top line whose first columns are prefix and returns
// its fields.
func topRow(out string, prefix ...string) []string {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= len(prefix) && strings.Join(f[:len(prefix)], " ") == strings.Join(prefix, " ") {
			return f
		}
	}
	return nil
}

// TestTopShowsABusyContainer is the seeds' troubleshooting step: `kubectl top pod`
// shows the usage of a container that burns CPU, and `kubectl top node` the node's.
func TestTopShowsABusyContainer(t *testing.T) {
	n := ns(t, "top")
	cluster.MustKubectl(t, "-n", n, "run", "hog", "--image="+toolbox, "--", "/toolbox", "hog-cpu", "--millicores", "400")
	running(t, n, "hog")

	var row []string
	framework.Eventually(t, 90*time.Second, func() error {
		out, err := cluster.Kubectl("-n", n, "top", "pod", "hog")
		if err != nil {
			return fmt.Errorf("kubectl top pod: %v: %s", err, out)
		}
		if row = topRow(out, "hog"); len(row) < 3 {
			return fmt.Errorf("no hog row in:\n%s", out)
		}
		if m, err := millicores(row[1]); err != nil || m < 100 {
			return fmt.Errorf("hog uses %s CPU, want at least 100m:\n%s", row[1], out)
		}
		return nil
	})
	if !strings.HasSuffix(row[2], "Mi") {
		t.Errorf("memory column = %q, want Mi", row[2])
	}

	out := cluster.MustKubectl(t, "-n", n, "top", "pod", "--containers")
	t.Logf("kubectl top pod --containers:\n%s", out)
	if r := topRow(out, "hog", "hog"); len(r) < 4 {
		t.Errorf("kubectl top pod --containers does not name the container:\n%s", out)
	}
	out = cluster.MustKubectl(t, "top", "pods", "-A")
	if r := topRow(out, n, "hog"); len(r) < 4 {
		t.Errorf("kubectl top pods -A lacks %s/hog:\n%s", n, out)
	}
	out = cluster.MustKubectl(t, "top", "node")
	t.Logf("kubectl top node:\n%s", out)
	r := topRow(out, "e2e-main")
	if len(r) < 5 {
		t.Fatalf("kubectl top node lacks e2e-main:\n%s", out)
	}
	if m, err := millicores(r[1]); err != nil || m <= 0 || r[3] == "0Mi" {
		t.Errorf("e2e-main usage cpu=%s memory=%s, want non-zero:\n%s", r[1], r[3], out)
	}

	// The agent's own endpoints, through the API server's nodes/proxy.
	out = cluster.MustKubectl(t, "get", "--raw", "/api/v1/nodes/e2e-main/proxy/metrics")
	for _, want := range []string{"kubelet_pod_start_duration_seconds_count ", `kubelet_runtime_operations_duration_seconds_bucket{operation_type="start_container"`} {
		if !strings.Contains(out, want) {
			t.Errorf("agent /metrics lacks %s", want)
		}
	}
	out = cluster.MustKubectl(t, "get", "--raw", "/api/v1/nodes/e2e-main/proxy/stats/summary")
	if !strings.Contains(out, `"nodeName":"e2e-main"`) || !strings.Contains(out, `"name":"hog"`) {
		t.Errorf("agent /stats/summary lacks the node or the hog pod:\n%.500s", out)
	}
}

// TestAPIServerMetricsEndpoint reads the Prometheus series an operator would graph.
func TestAPIServerMetricsEndpoint(t *testing.T) {
	out := cluster.MustKubectl(t, "get", "--raw", "/metrics")
	for _, want := range []string{"apiserver_request_total{", "apiserver_request_duration_seconds_bucket{",
		"scheduler_scheduling_attempt_duration_seconds_count "} {
		if !strings.Contains(out, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
