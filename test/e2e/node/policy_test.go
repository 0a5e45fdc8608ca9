package node_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// kubectlAll runs kubectl and returns what it printed on both streams (warnings go to
// standard error) and whether it succeeded.
func kubectlAll(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(framework.Kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+cluster.Kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustContain(t *testing.T, what, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Fatalf("%s: want %q in:\n%s", what, w, out)
		}
	}
}

// quotaRow reads "used/hard" of one resource from kubectl describe quota.
func quotaRow(desc, name string) string {
	for _, line := range strings.Split(desc, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == name {
			return f[1] + "/" + f[2]
		}
	}
	return ""
}

const cpuPod = `apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers:
  - name: c
    image: skiff.local/pause
    resources: %s
`

func TestQuotaOnPodsCPUAndDeployments(t *testing.T) {
	n := ns(t, "quota")
	cluster.MustKubectl(t, "-n", n, "create", "quota", "team", "--hard=pods=2,requests.cpu=1,count/deployments.apps=1")

	out, err := kubectlAll(t, fmt.Sprintf(cpuPod, "nocpu", "{}"), "-n", n, "apply", "-f", "-")
	if err == nil {
		t.Fatalf("a pod without a cpu request was admitted under a requests.cpu quota:\n%s", out)
	}
	mustContain(t, "pod without requests", out, "failed quota: team: must specify requests.cpu for: c")
	if _, err := cluster.KubectlStdin(fmt.Sprintf(cpuPod, "a", "{requests: {cpu: 300m}}"), "-n", n, "create", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	out, err = kubectlAll(t, fmt.Sprintf(cpuPod, "big", "{requests: {cpu: 800m}}"), "-n", n, "create", "-f", "-")
	if err == nil {
		t.Fatalf("a pod over the cpu quota was admitted:\n%s", out)
	}
	mustContain(t, "pod over cpu", out, `Error from server (Forbidden)`, "exceeded quota: team, requested: requests.cpu=800m, used: requests.cpu=300m, limited: requests.cpu=1")

	// A Deployment of three: one more pod fits, the others are refused and say why.
	dep := `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - {name: c, image: skiff.local/pause, resources: {requests: {cpu: 100m}}}
`
	if _, err := cluster.KubectlStdin(dep, "-n", n, "create", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		ev, _ := cluster.Kubectl("-n", n, "get", "events", "--field-selector", "reason=FailedCreate", "-o", "custom-columns=MSG:.message")
		if !strings.Contains(ev, "exceeded quota: team, requested: pods=1, used: pods=2, limited: pods=2") {
			return fmt.Errorf("no FailedCreate event naming the quota yet:\n%s", ev)
		}
		return nil
	})
	out, err = kubectlAll(t, "", "-n", n, "create", "deployment", "second", "--image=skiff.local/pause")
	if err == nil {
		t.Fatalf("a second deployment was admitted under count/deployments.apps=1:\n%s", out)
	}
	mustContain(t, "second deployment", out, "exceeded quota: team, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1")
	desc := cluster.MustKubectl(t, "-n", n, "describe", "quota", "team")
	for name, want := range map[string]string{"count/deployments.apps": "1/1", "pods": "2/2", "requests.cpu": "400m/1"} {
		if got := quotaRow(desc, name); got != want {
			t.Fatalf("describe quota: %s %s, want %s:\n%s", name, got, want, desc)
		}
	}

	// Deleting gives the quota back at once, without waiting for a resync.
	cluster.MustKubectl(t, "-n", n, "delete", "deployment", "web", "--wait=false")
	cluster.MustKubectl(t, "-n", n, "delete", "pod", "a", "--grace-period=0", "--force")
	framework.Eventually(t, 20*time.Second, func() error {
		desc = cluster.MustKubectl(t, "-n", n, "describe", "quota", "team")
		if quotaRow(desc, "pods") != "0/2" || quotaRow(desc, "count/deployments.apps") != "0/1" {
			return fmt.Errorf("describe quota after deletes:\n%s", desc)
		}
		return nil
	})
}

func TestQuotaHoldsAgainstConcurrentCreates(t *testing.T) {
	n := ns(t, "quota-race")
	cluster.MustKubectl(t, "-n", n, "create", "quota", "ten", "--hard=pods=10")
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, refused := 0, 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := kubectlAll(t, "", "-n", n, "run", fmt.Sprintf("p%02d", i), "--image=skiff.local/pause", "--restart=Never")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				created++
			case strings.Contains(out, "exceeded quota: ten"):
				refused++
			default:
				t.Errorf("kubectl run p%02d: %v\n%s", i, err, out)
			}
		}()
	}
	wg.Wait()
	names := strings.Fields(cluster.MustKubectl(t, "-n", n, "get", "pods", "-o", "name"))
	if created != 10 || refused != 10 || len(names) != 10 {
		t.Fatalf("created %d, refused %d, stored %d pods; want 10, 10, 10", created, refused, len(names))
	}
	if row := quotaRow(cluster.MustKubectl(t, "-n", n, "describe", "quota", "ten"), "pods"); row != "10/10" {
		t.Fatalf("describe quota: pods %s, want 10/10", row)
	}
}

func TestLimitRangeDefaultsAndRefuses(t *testing.T) {
	n := ns(t, "limits")
	lr := `apiVersion: v1
kind: LimitRange
metadata: {name: cpu}
spec:
  limits:
  - type: Container
    max: {cpu: "1"}
    default: {cpu: 500m}
    defaultRequest: {cpu: 100m}
`
	if _, err := cluster.KubectlStdin(lr, "-n", n, "create", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	cluster.MustKubectl(t, "-n", n, "run", "plain", "--image=skiff.local/pause")
	res := get(t, n, "plain", "{.spec.containers[0].resources}")
	if res != `{"limits":{"cpu":"500m"},"requests":{"cpu":"100m"}}` {
		t.Fatalf("resources of a pod that set none: %s", res)
	}
	mustContain(t, "annotation", get(t, n, "plain", "{.metadata.annotations}"), "LimitRanger plugin set: cpu request for container plain; cpu limit for container plain")
	out, err := kubectlAll(t, fmt.Sprintf(cpuPod, "big", "{limits: {cpu: 2}}"), "-n", n, "create", "-f", "-")
	if err == nil {
		t.Fatalf("a pod over the LimitRange max was admitted:\n%s", out)
	}
	mustContain(t, "over max", out, `pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2`)
}

const privilegedPod = `apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers:
  - name: c
    image: skiff.local/pause
    securityContext: {privileged: true}
`

func TestPodSecurityEnforcesAndWarns(t *testing.T) {
	locked := ns(t, "psa-restricted")
	cluster.MustKubectl(t, "label", "namespace", locked, "pod-security.kubernetes.io/enforce=restricted")
	out, err := kubectlAll(t, fmt.Sprintf(privilegedPod, "priv"), "-n", locked, "create", "-f", "-")
	if err == nil {
		t.Fatalf("a privileged pod was admitted in a restricted namespace:\n%s", out)
	}
	mustContain(t, "restricted", out, `pods "priv" is forbidden: violates PodSecurity "restricted:latest": privileged (container "c" must not set securityContext.privileged=true)`)

	warned := ns(t, "psa-warn")
	cluster.MustKubectl(t, "label", "namespace", warned, "pod-security.kubernetes.io/warn=baseline")
	out, err = kubectlAll(t, fmt.Sprintf(privilegedPod, "priv"), "-n", warned, "create", "-f", "-")
	if err != nil {
		t.Fatalf("warn mode refused the pod: %v\n%s", err, out)
	}
	mustContain(t, "warn", out, `Warning: would violate PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`, "pod/priv created")
	out, err = kubectlAll(t, "", "-n", warned, "create", "deployment", "web", "--image=skiff.local/pause")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out, "Warning") {
		t.Errorf("a baseline-clean deployment drew a warning:\n%s", out)
	}
	// Tightening the namespace names the pods that would no longer be admitted.
	out, err = kubectlAll(t, "", "label", "namespace", warned, "pod-security.kubernetes.io/enforce=baseline")
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "label change", out, `Warning: existing pods in namespace "psa-warn" violate the new PodSecurity enforce level "baseline:latest"`, "priv: privileged")
}

func TestNodeHonoursSecurityContext(t *testing.T) {
	n := ns(t, "secctx")
	nonRoot := `apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  securityContext: {runAsNonRoot: true}
  containers:
  - {name: c, image: ` + toolbox + `, command: [/toolbox, sleep, infinity]}
`
	if _, err := cluster.KubectlStdin(nonRoot, "-n", n, "create", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	restricted := `apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  securityContext:
    runAsUser: 1000
    runAsGroup: 3000
    fsGroup: 2000
    runAsNonRoot: true
    seccompProfile: {type: RuntimeDefault}
  volumes:
  - {name: data, emptyDir: {}}
  containers:
  - name: c
    image: ` + toolbox + `
    command: [/toolbox, sleep, infinity]
    volumeMounts: [{name: data, mountPath: /data}]
    securityContext:
      readOnlyRootFilesystem: true
      allowPrivilegeEscalation: false
      capabilities: {drop: [ALL]}
`
	if _, err := cluster.KubectlStdin(restricted, "-n", n, "create", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, n, "nonroot", "{.status.containerStatuses[0].state.waiting.reason}", 60*time.Second, equals("CreateContainerConfigError"))
	mustContain(t, "nonroot message", get(t, n, "nonroot", "{.status.containerStatuses[0].state.waiting.message}"),
		"container has runAsNonRoot and image will run as root")

	running(t, n, "app")
	id := cluster.MustKubectl(t, "-n", n, "exec", "app", "--", "id")
	mustContain(t, "id", id, "uid=1000", "gid=3000", "2000")
	out, err := kubectlAll(t, "", "-n", n, "exec", "app", "--", "touch", "/written")
	if err == nil {
		t.Fatalf("wrote to a read-only root filesystem:\n%s", out)
	}
	mustContain(t, "read-only root", out, "Read-only file system")
	cluster.MustKubectl(t, "-n", n, "exec", "app", "--", "touch", "/data/written")
	if g := strings.TrimSpace(cluster.MustKubectl(t, "-n", n, "exec", "app", "--", "stat", "-c", "%g", "/data/written")); g != "2000" {
		t.Errorf("a file the pod wrote to its emptyDir belongs to group %s, want the fsGroup 2000", g)
	}
	status := cluster.MustKubectl(t, "-n", n, "exec", "app", "--", "cat", "/proc/self/status")
	mustContain(t, "/proc/self/status", status, "NoNewPrivs:\t1", "CapEff:\t0000000000000000", "Seccomp:\t2")
}
