package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// TestEtcHostsServiceLinksAndPodIPEnv: a pod with its own network sees the kubelet's
// /etc/hosts (its IP with its FQDN, hostAliases), the Services of its namespace in
// its environment, and its pod and host IPs through the downward API.
func TestEtcHostsServiceLinksAndPodIPEnv(t *testing.T) {
	n := ns(t, "hosts")
	apply(t, n, `
apiVersion: v1
kind: Service
metadata: {name: back-end}
spec:
  selector: {app: none}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: linked}
spec:
  hostname: db
  subdomain: peers
  hostAliases: [{ip: "1.2.3.4", hostnames: [foo.local, bar.local]}]
  containers:
  - name: app
    image: `+toolbox+`
    command: ["sleep", "3600"]
    env:
    - {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    - {name: HOST_IP, valueFrom: {fieldRef: {fieldPath: status.hostIP}}}
---
apiVersion: v1
kind: Pod
metadata: {name: unlinked}
spec:
  enableServiceLinks: false
  containers:
  - {name: app, image: `+toolbox+`, command: ["sleep", "3600"]}
`)
	ip := running(t, n, "linked")
	running(t, n, "unlinked")
	hostIP := get(t, n, "linked", "{.status.hostIP}")
	svcIP := cluster.MustKubectl(t, "-n", n, "get", "service", "back-end", "-o", "jsonpath={.spec.clusterIP}")

	hosts := cluster.MustKubectl(t, "-n", n, "exec", "linked", "--", "cat", "/etc/hosts")
	for _, want := range []string{"# Kubernetes-managed hosts file.", "127.0.0.1\tlocalhost",
		ip + "\tdb.peers." + n + ".svc.cluster.local\tdb", "# Entries added by HostAliases.", "1.2.3.4\tfoo.local\tbar.local"} {
		if !strings.Contains(hosts, want) {
			t.Errorf("/etc/hosts lacks %q:\n%s", want, hosts)
		}
	}
	env := cluster.MustKubectl(t, "-n", n, "exec", "linked", "--", "env")
	for _, want := range []string{"BACK_END_SERVICE_HOST=" + svcIP, "BACK_END_SERVICE_PORT=80", "BACK_END_SERVICE_PORT_HTTP=80",
		"BACK_END_PORT=tcp://" + svcIP + ":80", "BACK_END_PORT_80_TCP_ADDR=" + svcIP, "KUBERNETES_SERVICE_HOST=",
		"POD_IP=" + ip, "HOST_IP=" + hostIP} {
		if !strings.Contains(env, want) {
			t.Errorf("env of a linked pod lacks %q:\n%s", want, env)
		}
	}
	env = cluster.MustKubectl(t, "-n", n, "exec", "unlinked", "--", "env")
	if strings.Contains(env, "BACK_END_") || !strings.Contains(env, "KUBERNETES_SERVICE_HOST=") {
		t.Errorf("with enableServiceLinks=false want only the kubernetes Service's variables:\n%s", env)
	}
}

// TestTerminationMessage: what a container writes to /dev/termination-log, or with
// FallbackToLogsOnError the end of its log, is the message of its terminated state.
func TestTerminationMessage(t *testing.T) {
	n := ns(t, "termmsg")
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: msg}
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 1000}
  containers:
  - name: file
    image: `+toolbox+`
    command: ["sh", "-c", "echo -n all done > /dev/termination-log"]
  - name: custom
    image: `+toolbox+`
    terminationMessagePath: /tmp/why
    command: ["sh", "-c", "echo -n custom path > /tmp/why; exit 3"]
  - name: logs
    image: `+toolbox+`
    terminationMessagePolicy: FallbackToLogsOnError
    command: ["sh", "-c", "echo first; echo last words; exit 1"]
`)
	waitFor(t, n, "msg", "{.status.phase}", 90*time.Second, equals("Failed"))
	for name, want := range map[string]string{"file": "all done", "custom": "custom path", "logs": "first\nlast words\n"} {
		path := fmt.Sprintf(`{.status.containerStatuses[?(@.name=="%s")].state.terminated.message}`, name)
		if got := get(t, n, "msg", path); got != want {
			t.Errorf("container %s: terminated message %q, want %q", name, got, want)
		}
	}
}

// TestLifecycleHooks: postStart hooks (exec and httpGet) run once the container
// started, a failing one kills the container, and preStop runs on deletion.
func TestLifecycleHooks(t *testing.T) {
	n := ns(t, "hooks")
	cluster.MustKubectl(t, "-n", n, "run", "handler", "--image="+toolbox, "--", "/toolbox", "serve", "--port", "8080")
	handler := running(t, n, "handler")
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: hooked}
spec:
  terminationGracePeriodSeconds: 20
  containers:
  - name: exec
    image: `+toolbox+`
    command: ["sleep", "3600"]
    lifecycle:
      postStart: {exec: {command: ["sh", "-c", "echo started > /tmp/poststart"]}}
  - name: http
    image: `+toolbox+`
    command: ["sleep", "3600"]
    lifecycle:
      postStart: {httpGet: {host: "`+handler+`", port: 8080, path: /poststart}}
      preStop: {httpGet: {host: "`+handler+`", port: 8080, path: /prestop}}
---
apiVersion: v1
kind: Pod
metadata: {name: failing}
spec:
  terminationGracePeriodSeconds: 2 # sleep ignores SIGTERM: the kill waits out the grace period
  containers:
  - name: app
    image: `+toolbox+`
    command: ["sleep", "3600"]
    lifecycle:
      postStart: {exec: {command: ["sh", "-c", "exit 7"]}}
`)
	running(t, n, "hooked")
	if out := cluster.MustKubectl(t, "-n", n, "exec", "hooked", "-c", "exec", "--", "cat", "/tmp/poststart"); strings.TrimSpace(out) != "started" {
		t.Errorf("postStart exec hook left %q, want started", out)
	}
	handlerSaw := func(path string) {
		t.Helper()
		framework.Eventually(t, 30*time.Second, func() error {
			if logs, _ := cluster.Kubectl("-n", n, "logs", "handler"); !strings.Contains(logs, "GET "+path) {
				return fmt.Errorf("handler logs lack GET %s:\n%s", path, logs)
			}
			return nil
		})
	}
	handlerSaw("/poststart")
	cluster.MustKubectl(t, "-n", n, "delete", "pod", "hooked", "--wait=false")
	handlerSaw("/prestop")

	framework.Eventually(t, 60*time.Second, func() error {
		ev, _ := cluster.Kubectl("-n", n, "get", "events", "--field-selector", "involvedObject.name=failing", "-o", "jsonpath={.items[*].reason}")
		restarts := get(t, n, "failing", "{.status.containerStatuses[0].restartCount}")
		if !strings.Contains(ev, "FailedPostStartHook") || restarts == "" || restarts == "0" {
			return fmt.Errorf("events %q, restarts %q: want FailedPostStartHook and a restart", ev, restarts)
		}
		return nil
	})
}
