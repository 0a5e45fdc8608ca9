package node_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

const toolbox = "skiff.local/toolbox:1"

func ns(t *testing.T, name string) string {
	t.Helper()
	cluster.MustKubectl(t, "create", "namespace", name)
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "namespace", name, "--wait=false") })
	return name
}

func get(t *testing.T, n, pod, path string) string {
	t.Helper()
	out, _ := cluster.Kubectl("-n", n, "get", "pod", pod, "-o", "jsonpath="+path)
	return out
}

// waitFor polls a pod field until want(value) or the timeout.
func waitFor(t *testing.T, n, pod, path string, timeout time.Duration, want func(string) bool) string {
	t.Helper()
	var v string
	framework.Eventually(t, timeout, func() error {
		if v = get(t, n, pod, path); want(v) {
			return nil
		}
		return fmt.Errorf("pod %s %s = %q", pod, path, v)
	})
	return v
}

func equals(s string) func(string) bool { return func(v string) bool { return v == s } }

func running(t *testing.T, n, pod string) string {
	t.Helper()
	waitFor(t, n, pod, "{.status.phase}", 90*time.Second, equals("Running"))
	return get(t, n, pod, "{.status.podIP}")
}

func TestPodServesHTTPOnItsIP(t *testing.T) {
	n := ns(t, "web")
	cluster.MustKubectl(t, "-n", n, "run", "web", "--image="+toolbox, "--", "/toolbox", "serve", "--port", "8080")
	ip := running(t, n, "web")
	var body string
	framework.Eventually(t, 20*time.Second, func() error {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + ip + ":8080/")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body = string(b)
		return nil
	})
	if !strings.Contains(body, "hostname: web") {
		t.Fatalf("pod answered %q", body)
	}
	out := cluster.MustKubectl(t, "-n", n, "get", "pods", "-o", "wide")
	if !strings.Contains(out, ip) || !strings.Contains(out, "e2e-main") || !strings.Contains(out, "1/1") {
		t.Fatalf("kubectl get pods -o wide:\n%s", out)
	}
	if logs := cluster.MustKubectl(t, "-n", n, "logs", "web"); !strings.Contains(logs, "GET / 200") {
		t.Fatalf("kubectl logs lacks the request:\n%s", logs)
	}
	// Events are recorded asynchronously (as in Kubernetes): a loaded node may write
	// them a moment after the pod already answers.
	framework.Eventually(t, 20*time.Second, func() error {
		desc := cluster.MustKubectl(t, "-n", n, "describe", "pod", "web")
		for _, ev := range []string{"Scheduled", "Pulled", "Created", "Started"} {
			if !strings.Contains(desc, ev) {
				return fmt.Errorf("describe pod lacks event %s:\n%s", ev, desc)
			}
		}
		return nil
	})
}

func TestEnvAndInitContainers(t *testing.T) {
	n := ns(t, "env")
	manifest := `
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {MODE: production, LEVEL: debug}
---
apiVersion: v1
kind: Secret
metadata: {name: app-secret}
stringData: {PASSWORD: s3cr3t}
---
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  restartPolicy: Never
  initContainers:
  - name: migrate
    image: ` + toolbox + `
    command: ["sh", "-c", "echo migrating; sleep 1"]
  containers:
  - name: app
    image: ` + toolbox + `
    command: ["sh", "-c", "echo MODE=$MODE; echo PASSWORD=$PASSWORD; echo CFG_LEVEL=$CFG_LEVEL; echo POD=$POD_NAME; sleep 3600"]
    env:
    - name: MODE
      valueFrom: {configMapKeyRef: {name: app-config, key: MODE}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: app-secret, key: PASSWORD}}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    envFrom:
    - prefix: CFG_
      configMapRef: {name: app-config}
`
	if _, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	running(t, n, "app")
	var logs string
	framework.Eventually(t, 20*time.Second, func() error {
		logs, _ = cluster.Kubectl("-n", n, "logs", "app")
		if !strings.Contains(logs, "POD=app") {
			return fmt.Errorf("logs: %q", logs)
		}
		return nil
	})
	for _, want := range []string{"MODE=production", "PASSWORD=s3cr3t", "CFG_LEVEL=debug", "POD=app"} {
		if !strings.Contains(logs, want) {
			t.Errorf("container env lacks %s:\n%s", want, logs)
		}
	}
	if r := get(t, n, "app", "{.status.initContainerStatuses[0].state.terminated.reason}"); r != "Completed" {
		t.Errorf("init container state = %q, want Completed", r)
	}
	initDone := get(t, n, "app", "{.status.initContainerStatuses[0].state.terminated.finishedAt}")
	appStart := get(t, n, "app", "{.status.containerStatuses[0].state.running.startedAt}")
	if appStart < initDone {
		t.Errorf("app started at %s, before the init container finished at %s", appStart, initDone)
	}
	if logs := cluster.MustKubectl(t, "-n", n, "logs", "app", "-c", "migrate"); !strings.Contains(logs, "migrating") {
		t.Errorf("init container logs: %q", logs)
	}
}

func TestCrashLoopBackOffGrows(t *testing.T) {
	n := ns(t, "crash")
	cluster.MustKubectl(t, "-n", n, "run", "crash", "--image="+toolbox, "--", "sh", "-c", "echo crashing now; exit 3")
	waitFor(t, n, "crash", "{.status.containerStatuses[0].state.waiting.reason}", 60*time.Second, equals("CrashLoopBackOff"))
	// The back-off doubles: 10s after the first crash, 20s after the second.
	waitFor(t, n, "crash", "{.status.containerStatuses[0].state.waiting.message}", 90*time.Second,
		func(v string) bool { return strings.Contains(v, "20s") })
	if code := get(t, n, "crash", "{.status.containerStatuses[0].lastState.terminated.exitCode}"); code != "3" {
		t.Errorf("lastState exit code = %q, want 3", code)
	}
	if rc := get(t, n, "crash", "{.status.containerStatuses[0].restartCount}"); rc < "2" {
		t.Errorf("restartCount = %q, want >= 2", rc)
	}
	if logs := cluster.MustKubectl(t, "-n", n, "logs", "crash", "--previous"); !strings.Contains(logs, "crashing now") {
		t.Errorf("logs --previous: %q", logs)
	}
	if out := cluster.MustKubectl(t, "-n", n, "get", "pod", "crash"); !strings.Contains(out, "CrashLoopBackOff") {
		t.Errorf("kubectl get pod:\n%s", out)
	}
}

func TestMemoryHogIsOOMKilled(t *testing.T) {
	n := ns(t, "oom")
	manifest := `
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  restartPolicy: Never
  containers:
  - name: hog
    image: ` + toolbox + `
    command: ["/toolbox", "hog-memory", "--mb", "200"]
    resources:
      limits: {memory: 64Mi, cpu: 200m}
`
	if _, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, n, "hog", "{.status.containerStatuses[0].state.terminated.reason}", 90*time.Second, equals("OOMKilled"))
	if code := get(t, n, "hog", "{.status.containerStatuses[0].state.terminated.exitCode}"); code != "137" {
		t.Errorf("exit code = %q, want 137", code)
	}
	if q := get(t, n, "hog", "{.status.qosClass}"); q != "Guaranteed" {
		t.Errorf("qosClass = %q, want Guaranteed (cpu and memory limits only: requests default to limits)", q)
	}
}

func TestMissingImageBacksOff(t *testing.T) {
	n := ns(t, "pull")
	cluster.MustKubectl(t, "-n", n, "run", "ghost", "--image=skiff.local/does-not-exist:1")
	waitFor(t, n, "ghost", "{.status.containerStatuses[0].state.waiting.reason}", 60*time.Second, equals("ImagePullBackOff"))
	events := cluster.MustKubectl(t, "-n", n, "get", "events", "--field-selector", "involvedObject.name=ghost")
	if !strings.Contains(events, "skiff.local/does-not-exist:1") {
		t.Errorf("events do not name the image:\n%s", events)
	}
	// The registry's name is never looked up outside: the event says what is wrong.
	if !strings.Contains(events, "not in the cluster's registry") || strings.Contains(events, "no such host") {
		t.Errorf("events do not say the image is missing from the registry:\n%s", events)
	}
}

func TestLogsFollowStreams(t *testing.T) {
	n := ns(t, "logs")
	cluster.MustKubectl(t, "-n", n, "run", "ticker", "--image="+toolbox, "--", "sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.3; done")
	running(t, n, "ticker")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, framework.Kubectl, "-n", n, "logs", "-f", "ticker")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = cmd.Wait() }()
	s := bufio.NewScanner(out)
	var lines []string
	start := time.Now()
	for len(lines) < 10 && s.Scan() {
		lines = append(lines, s.Text())
	}
	if len(lines) < 10 {
		t.Fatalf("logs -f gave %d lines: %v", len(lines), lines)
	}
	// Streaming, not a snapshot: later lines arrive over time.
	if time.Since(start) < 500*time.Millisecond {
		t.Logf("10 lines arrived at once (history); still following")
	}
	last := lines[len(lines)-1]
	for s.Scan() {
		if s.Text() != last && time.Since(start) > 2*time.Second {
			return
		}
	}
	t.Fatalf("no new line after %v", lines)
}

func TestDeleteRespectsGracePeriod(t *testing.T) {
	n := ns(t, "grace")
	manifest := `
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 4
  containers:
  - name: c
    image: ` + toolbox + `
    command: ["sh", "-c", "trap 'echo ignoring TERM' TERM; while true; do sleep 1; done"]
`
	if _, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	running(t, n, "stubborn")
	start := time.Now()
	cluster.MustKubectl(t, "-n", n, "delete", "pod", "stubborn", "--timeout=60s")
	took := time.Since(start)
	if took < 3*time.Second || took > 20*time.Second {
		t.Fatalf("delete took %s; a container ignoring SIGTERM should be killed after its 4s grace period", took)
	}
	cluster.MustKubectl(t, "-n", n, "run", "polite", "--image="+toolbox, "--", "/toolbox", "sleep", "infinity")
	running(t, n, "polite")
	start = time.Now()
	cluster.MustKubectl(t, "-n", n, "delete", "pod", "polite", "--timeout=60s")
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("deleting a pod that exits on SIGTERM took %s", took)
	}
}
