package node_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// apply pipes a manifest to kubectl apply in namespace n.
func apply(t *testing.T, n, manifest string) {
	t.Helper()
	if out, err := cluster.KubectlStdin(manifest, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}

// execOut runs a command in a container and returns its output (or the error).
func execOut(n, pod, container string, cmd ...string) (string, error) {
	args := []string{"-n", n, "exec", pod}
	if container != "" {
		args = append(args, "-c", container)
	}
	return cluster.Kubectl(append(append(args, "--"), cmd...)...)
}

// waitExec polls a command in the pod until its output satisfies want.
func waitExec(t *testing.T, timeout time.Duration, n, pod, container string, want func(string) bool, cmd ...string) string {
	t.Helper()
	var out string
	framework.Eventually(t, timeout, func() error {
		var err error
		out, err = execOut(n, pod, container, cmd...)
		if err != nil || !want(out) {
			return fmt.Errorf("exec %v: %q %v", cmd, out, err)
		}
		return nil
	})
	return out
}

func contains(s string) func(string) bool {
	return func(v string) bool { return strings.Contains(v, s) }
}

// TestEmptyDirSharedBySidecar: the seeds' sidecar example — one container writes
// into an emptyDir, the other reads it.
func TestEmptyDirSharedBySidecar(t *testing.T) {
	n := ns(t, "sidecar")
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: writer
    image: `+toolbox+`
    command: ["sh", "-c", "while true; do echo written by $(hostname) >> /data/log; sleep 1; done"]
    volumeMounts: [{name: shared, mountPath: /data}]
  - name: reader
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts: [{name: shared, mountPath: /shared, readOnly: true}]
  volumes:
  - name: shared
    emptyDir: {}
`)
	running(t, n, "app")
	waitExec(t, 30*time.Second, n, "app", "reader", contains("written by app"), "cat", "/shared/log")
	if _, err := execOut(n, "app", "reader", "touch", "/shared/x"); err == nil {
		t.Errorf("a readOnly mount accepted a write")
	}
}

// TestConfigMapVolumeFollowsUpdates: a configMap volume shows the object's data, and
// an update reaches the running container through the ..data swap.
func TestConfigMapVolumeFollowsUpdates(t *testing.T) {
	n := ns(t, "cmvol")
	apply(t, n, `
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {greeting: hello, mode: production}
---
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts: [{name: config, mountPath: /etc/config}]
  volumes:
  - name: config
    configMap: {name: app-config}
`)
	running(t, n, "app")
	if out, err := execOut(n, "app", "", "cat", "/etc/config/greeting"); err != nil || out != "hello" {
		t.Fatalf("cat /etc/config/greeting = %q, %v", out, err)
	}
	if out, _ := execOut(n, "app", "", "ls", "-la", "/etc/config/"); !strings.Contains(out, "..data ->") || !strings.Contains(out, "greeting -> ..data/greeting") {
		t.Errorf("ls -la /etc/config lacks the ..data links:\n%s", out)
	}
	cluster.MustKubectl(t, "-n", n, "patch", "configmap", "app-config", "-p", `{"data":{"greeting":"bonjour"}}`)
	start := time.Now()
	waitExec(t, 30*time.Second, n, "app", "", func(s string) bool { return s == "bonjour" }, "cat", "/etc/config/greeting")
	t.Logf("the update reached the container in %s", time.Since(start).Round(100*time.Millisecond))

	// A configMap that does not exist keeps the container waiting, and says which.
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: lacking}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts: [{name: config, mountPath: /etc/config}]
  volumes:
  - name: config
    configMap: {name: absent}
`)
	waitFor(t, n, "lacking", "{.status.containerStatuses[0].state.waiting.reason}", 60*time.Second, equals("CreateContainerConfigError"))
	if msg := get(t, n, "lacking", "{.status.containerStatuses[0].state.waiting.message}"); !strings.Contains(msg, `configmap "absent" not found`) {
		t.Errorf("waiting message = %q", msg)
	}
	framework.Eventually(t, 20*time.Second, func() error {
		ev, _ := cluster.Kubectl("-n", n, "get", "events", "--field-selector", "involvedObject.name=lacking")
		if !strings.Contains(ev, "FailedMount") || !strings.Contains(ev, "absent") {
			return fmt.Errorf("events:\n%s", ev)
		}
		return nil
	})
	cluster.MustKubectl(t, "-n", n, "create", "configmap", "absent", "--from-literal=greeting=here now")
	running(t, n, "lacking")
	if out, _ := execOut(n, "lacking", "", "cat", "/etc/config/greeting"); out != "here now" {
		t.Errorf("configmap created later reads %q", out)
	}
}

// TestSecretAndDownwardAPIVolumes: items with a mode, defaultMode, and the pod's own
// labels and limits as files.
func TestSecretAndDownwardAPIVolumes(t *testing.T) {
	n := ns(t, "secretvol")
	apply(t, n, `
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {username: admin, password: s3cr3t}
---
apiVersion: v1
kind: Pod
metadata: {name: app, labels: {app: demo, tier: backend}}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    resources: {limits: {memory: 64Mi}}
    volumeMounts:
    - {name: secret, mountPath: /etc/secret}
    - {name: all, mountPath: /etc/all}
    - {name: podinfo, mountPath: /etc/podinfo}
  volumes:
  - name: secret
    secret:
      secretName: creds
      defaultMode: 0400
      items: [{key: password, path: auth/pw}]
  - name: all
    secret: {secretName: creds, defaultMode: 0440}
  - name: podinfo
    downwardAPI:
      items:
      - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      - {path: name, fieldRef: {fieldPath: metadata.name}}
      - {path: mem_limit, resourceFieldRef: {containerName: app, resource: limits.memory, divisor: 1Mi}}
`)
	running(t, n, "app")
	checks := []struct{ cmd, want string }{
		{"cat /etc/secret/auth/pw", "s3cr3t"},
		{"ls /etc/secret", "auth\n"},
		{"stat -L -c %a /etc/secret/auth/pw", "400\n"},
		{"stat -L -c %a /etc/all/username", "440\n"},
		{"cat /etc/all/username", "admin"},
		{"cat /etc/podinfo/labels", "app=\"demo\"\ntier=\"backend\""},
		{"cat /etc/podinfo/name", "app"},
		{"cat /etc/podinfo/mem_limit", "64"},
	}
	for _, c := range checks {
		if out, err := execOut(n, "app", "", "sh", "-c", c.cmd); err != nil || out != c.want {
			t.Errorf("%s = %q, %v; want %q", c.cmd, out, err, c.want)
		}
	}
	if _, err := execOut(n, "app", "", "sh", "-c", "echo x > /etc/all/new"); err == nil {
		t.Errorf("a secret volume accepted a write")
	}
}

// TestServiceAccountTokenInPod: every pod gets its service account's token, the
// cluster CA and its namespace, and client-go's in-cluster config authenticates with
// them as system:serviceaccount:<ns>:default.
func TestServiceAccountTokenInPod(t *testing.T) {
	n := ns(t, "satoken")
	cluster.MustKubectl(t, "-n", n, "run", "app", "--image="+toolbox, "--", "/toolbox", "sleep", "infinity")
	running(t, n, "app")
	const dir = "/var/run/secrets/kubernetes.io/serviceaccount/"
	if vols := get(t, n, "app", "{.spec.volumes[*].name}"); !strings.HasPrefix(vols, "kube-api-access-") {
		t.Errorf("pod volumes = %q, want kube-api-access-*", vols)
	}
	if out, err := execOut(n, "app", "", "cat", dir+"namespace"); err != nil || out != n {
		t.Errorf("namespace file = %q, %v", out, err)
	}
	if out, _ := execOut(n, "app", "", "cat", dir+"ca.crt"); !strings.HasPrefix(out, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("ca.crt = %q", out)
	}
	if out, _ := execOut(n, "app", "", "cat", dir+"token"); strings.Count(out, ".") != 2 {
		t.Errorf("token is not a JWT: %q", out)
	}
	if out, _ := execOut(n, "app", "", "mount"); !strings.Contains(out, "tmpfs on "+strings.TrimSuffix(dir, "/")+" type tmpfs (ro") {
		t.Errorf("the token is not on a read-only tmpfs:\n%s", out)
	}
	if out, _ := execOut(n, "app", "", "env"); !strings.Contains(out, "KUBERNETES_SERVICE_HOST=") {
		t.Errorf("env lacks KUBERNETES_SERVICE_HOST:\n%s", out)
	}
	// A review of the pod's token names the pod and its node, as Kubernetes' does.
	tok, _ := execOut(n, "app", "", "cat", dir+"token")
	review, err := cluster.KubectlStdin(`{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"`+tok+`"}}`,
		"create", "-f", "-", "-o", `jsonpath={.status.user.extra.authentication\.kubernetes\.io/pod-name},{.status.user.extra.authentication\.kubernetes\.io/node-name}`)
	if wantReview := "[\"app\"],[\"" + get(t, n, "app", "{.spec.nodeName}") + "\"]"; err != nil || review != wantReview {
		t.Errorf("token review extra = %q, %v; want %s", review, err, wantReview)
	}
	want := "system:serviceaccount:" + n + ":default\n"
	waitExec(t, 20*time.Second, n, "app", "", func(s string) bool { return s == want }, "/toolbox", "whoami")

	// Opting out leaves the pod without the volume.
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: private}
spec:
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: `+toolbox+`, command: ["/toolbox", "sleep", "infinity"]}
`)
	running(t, n, "private")
	if _, err := execOut(n, "private", "", "ls", dir); err == nil {
		t.Errorf("a pod with automountServiceAccountToken: false has %s", dir)
	}
}

// TestMemoryHostPathAndClaimVolumes: a memory emptyDir is a tmpfs, hostPath
// DirectoryOrCreate creates its directory, a failed hostPath check says why, and a
// claim bound by hand to a hostPath PV keeps data across pod recreation.
func TestMemoryHostPathAndClaimVolumes(t *testing.T) {
	n := ns(t, "hostvol")
	host := t.TempDir()
	pv := "e2e-vol-" + filepath.Base(host)
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "pv", pv, "--wait=false") })
	pod := func(name string) string {
		return `
apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: ` + toolbox + `
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts:
    - {name: cache, mountPath: /cache}
    - {name: made, mountPath: /made}
    - {name: data, mountPath: /data}
    - {name: data, mountPath: /sub, subPath: nested/dir}
  volumes:
  - name: cache
    emptyDir: {medium: Memory, sizeLimit: 16Mi}
  - name: made
    hostPath: {path: ` + host + `/made, type: DirectoryOrCreate}
  - name: data
    persistentVolumeClaim: {claimName: data}
`
	}
	apply(t, n, `
apiVersion: v1
kind: PersistentVolume
metadata: {name: `+pv+`}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  hostPath: {path: `+host+`/pv, type: DirectoryOrCreate}
  claimRef: {namespace: `+n+`, name: data}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeName: `+pv+`
  resources: {requests: {storage: 1Gi}}
`+"---"+pod("first"))
	running(t, n, "first")
	if out, _ := execOut(n, "first", "", "mount"); !strings.Contains(out, "on /cache type tmpfs") {
		t.Errorf("mount lacks a tmpfs at /cache:\n%s", out)
	}
	if out, _ := execOut(n, "first", "", "df", "-k", "/cache"); !strings.Contains(out, "16384") {
		t.Errorf("df /cache does not show the 16Mi sizeLimit:\n%s", out)
	}
	if info, err := os.Stat(filepath.Join(host, "made")); err != nil || !info.IsDir() {
		t.Errorf("hostPath DirectoryOrCreate did not create its directory: %v", err)
	}
	if _, err := execOut(n, "first", "", "sh", "-c", "echo persisted > /data/note && echo deep > /sub/file"); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(host, "pv", "nested", "dir", "file")); err != nil || string(data) != "deep\n" {
		t.Errorf("subPath file on the host = %q, %v", data, err)
	}
	// Deleting the pod unmounts its tmpfs and removes its volume directories.
	uid := get(t, n, "first", "{.metadata.uid}")
	podDirs := filepath.Join(cluster.Dir, "agent", "kubelet", "pods", uid)
	if _, err := os.Stat(filepath.Join(podDirs, "volumes", "kubernetes.io~empty-dir", "cache")); err != nil {
		t.Errorf("the memory emptyDir is not where expected: %v", err)
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); !strings.Contains(string(mi), uid) {
		t.Errorf("no mount of the pod's tmpfs on the host")
	}
	cluster.MustKubectl(t, "-n", n, "delete", "pod", "first")
	framework.Eventually(t, 30*time.Second, func() error {
		if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), uid) {
			return fmt.Errorf("the pod's tmpfs is still mounted")
		}
		if _, err := os.Stat(podDirs); err == nil {
			return fmt.Errorf("the pod's volume directory %s is still there", podDirs)
		}
		return nil
	})
	apply(t, n, pod("second"))
	running(t, n, "second")
	if out, err := execOut(n, "second", "", "cat", "/data/note"); err != nil || out != "persisted\n" {
		t.Errorf("data after recreating the pod = %q, %v", out, err)
	}

	// A hostPath that must exist and does not keeps the container waiting, saying why.
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: missing-dir}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: `+toolbox+`, command: ["/toolbox", "sleep", "infinity"], volumeMounts: [{name: d, mountPath: /d}]}
  volumes:
  - {name: d, hostPath: {path: `+host+`/absent, type: Directory}}
`)
	waitFor(t, n, "missing-dir", "{.status.containerStatuses[0].state.waiting.message}", 60*time.Second, contains("does not exist"))
}
