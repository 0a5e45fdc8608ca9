package node_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// TestExecPortForwardAndCp: the seeds' troubleshooting workflow inside a pod.
func TestExecPortForwardAndCp(t *testing.T) {
	n := ns(t, "tools")
	cluster.MustKubectl(t, "-n", n, "run", "box", "--image="+toolbox, "--", "/toolbox", "serve", "--port", "8080")
	running(t, n, "box")
	if out := cluster.MustKubectl(t, "-n", n, "exec", "box", "--", "hostname"); strings.TrimSpace(out) != "box" {
		t.Errorf("exec hostname = %q", out)
	}
	if out, err := cluster.KubectlStdin("hello stdin\n", "-n", n, "exec", "-i", "box", "--", "cat"); err != nil || out != "hello stdin\n" {
		t.Errorf("exec -i cat = %q, %v", out, err)
	}
	_, err := cluster.Kubectl("-n", n, "exec", "box", "--", "sh", "-c", "exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Errorf("exec exit code: %v", err)
	}
	// kubectl exec <pod> -- curl <service IP>, as the seeds troubleshoot a Service.
	cluster.MustKubectl(t, "-n", n, "expose", "pod", "box", "--port=80", "--target-port=8080")
	svcIP := strings.TrimSpace(cluster.MustKubectl(t, "-n", n, "get", "svc", "box", "-o", "jsonpath={.spec.clusterIP}"))
	framework.Eventually(t, 20*time.Second, func() error {
		out, err := cluster.Kubectl("-n", n, "exec", "box", "--", "curl", "-s", "http://"+svcIP+"/hostname")
		if err != nil || out != "box" {
			return fmt.Errorf("exec curl service: %q %v", out, err)
		}
		return nil
	})
	// Port-forward a local port to the pod.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pf := exec.CommandContext(ctx, framework.Kubectl, "-n", n, "port-forward", "pod/box", "18181:8080")
	pf.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = pf.Wait() }()
	framework.Eventually(t, 20*time.Second, func() error {
		body, err := httpGet("http://127.0.0.1:18181/hostname")
		if err != nil || body != "box" {
			return fmt.Errorf("port-forward: %q %v", body, err)
		}
		return nil
	})
	// kubectl cp both ways.
	local := filepath.Join(t.TempDir(), "note.txt")
	if err := os.WriteFile(local, []byte("copied in\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cluster.MustKubectl(t, "-n", n, "cp", local, "box:/tmp/note.txt")
	if out := cluster.MustKubectl(t, "-n", n, "exec", "box", "--", "cat", "/tmp/note.txt"); out != "copied in\n" {
		t.Errorf("file copied in reads %q", out)
	}
	back := filepath.Join(t.TempDir(), "back.txt")
	cluster.MustKubectl(t, "-n", n, "cp", "box:/tmp/note.txt", back)
	if data, _ := os.ReadFile(back); string(data) != "copied in\n" {
		t.Errorf("file copied out reads %q", data)
	}
}

// TestProbes: the seeds' liveness examples restart a container when the check fails;
// a readiness probe keeps a pod out of its Service until ready.
func TestProbes(t *testing.T) {
	n := ns(t, "probes")
	manifest := `
apiVersion: v1
kind: Pod
metadata: {name: liveness-http, labels: {app: probe}}
spec:
  containers:
  - name: app
    image: ` + toolbox + `
    command: ["/toolbox", "serve", "--port", "8080"]
    livenessProbe:
      httpGet: {path: /healthz, port: 8080}
      initialDelaySeconds: 1
      periodSeconds: 1
      failureThreshold: 2
---
apiVersion: v1
kind: Pod
metadata: {name: liveness-exec}
spec:
  containers:
  - name: app
    image: ` + toolbox + `
    command: ["sh", "-c", "touch /tmp/healthy; sleep 4; rm -f /tmp/healthy; exec /toolbox sleep infinity"]
    livenessProbe:
      exec: {command: ["cat", "/tmp/healthy"]}
      initialDelaySeconds: 1
      periodSeconds: 1
      failureThreshold: 2
---
apiVersion: v1
kind: Pod
metadata: {name: slow-ready, labels: {app: slow}}
spec:
  containers:
  - name: app
    image: ` + toolbox + `
    command: ["/toolbox", "serve", "--port", "8080", "--ready-after", "8s"]
    readinessProbe:
      httpGet: {path: /ready, port: 8080}
      periodSeconds: 1
`
	if _, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	cluster.MustKubectl(t, "-n", n, "expose", "pod", "slow-ready", "--name=slow", "--port=80", "--target-port=8080")
	ip := running(t, n, "liveness-http")
	if desc := cluster.MustKubectl(t, "-n", n, "describe", "pod", "liveness-http"); !strings.Contains(desc, "Liveness:") || !strings.Contains(desc, "http-get http://:8080/healthz") {
		t.Errorf("describe lacks the Liveness line:\n%s", desc)
	}
	// Make /healthz fail: the container is killed and restarted.
	framework.Eventually(t, 20*time.Second, func() error { _, err := httpGet("http://" + ip + ":8080/fail"); return err })
	waitFor(t, n, "liveness-http", "{.status.containerStatuses[0].restartCount}", 60*time.Second, func(v string) bool { return v != "" && v != "0" })
	waitFor(t, n, "liveness-exec", "{.status.containerStatuses[0].restartCount}", 90*time.Second, func(v string) bool { return v != "" && v != "0" })
	events := cluster.MustKubectl(t, "-n", n, "get", "events")
	for _, want := range []string{"Unhealthy", "Liveness probe failed", "Killing"} {
		if !strings.Contains(events, want) {
			t.Errorf("events lack %q:\n%s", want, events)
		}
	}
	// Readiness: out of the endpoints until /ready answers, then in.
	running(t, n, "slow-ready")
	if ready := get(t, n, "slow-ready", `{.status.conditions[?(@.type=="Ready")].status}`); ready == "True" {
		t.Errorf("pod Ready before its readiness probe passed")
	}
	if eps := cluster.MustKubectl(t, "-n", n, "get", "endpoints", "slow", "-o", "jsonpath={.subsets[*].addresses[*].ip}"); eps != "" {
		t.Errorf("not-ready pod in endpoints: %q", eps)
	}
	waitFor(t, n, "slow-ready", `{.status.conditions[?(@.type=="Ready")].status}`, 60*time.Second, equals("True"))
	framework.Eventually(t, 20*time.Second, func() error {
		eps, _ := cluster.Kubectl("-n", n, "get", "endpoints", "slow", "-o", "jsonpath={.subsets[*].addresses[*].ip}")
		if eps == "" {
			return fmt.Errorf("ready pod not in endpoints")
		}
		return nil
	})
}
