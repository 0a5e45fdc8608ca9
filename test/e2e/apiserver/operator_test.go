package apiserver_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// operatorBinary builds test/operator, a controller-runtime operator in its own
// Go module.
func operatorBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "operator")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join("..", "..", "operator")
	cmd.Env = append(os.Environ(), "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		framework.Require(t, false, fmt.Sprintf("build the controller-runtime operator: %v: %s", err, out))
	}
	return bin
}

// eventually runs kubectl until ok accepts its output.
func eventually(t *testing.T, what string, ok func(string) bool, args ...string) {
	t.Helper()
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		out, _ = cluster.Kubectl(args...)
		if ok(out) {
			return
		}
	}
	t.Fatalf("%s: kubectl %s last printed:\n%s", what, strings.Join(args, " "), out)
}

// TestControllerRuntimeOperator runs an operator written with controller-runtime,
// unchanged, as a process with a kubeconfig: it takes its leader election Lease,
// reconciles an Echo into owned ConfigMaps, reports status through the status
// subresource, and on deletion its finalizer runs while the garbage collector
// removes what it owned.
func TestControllerRuntimeOperator(t *testing.T) {
	bin := operatorBinary(t)
	n := ns(t, "operator")
	const crd = "echoes.operator.e2e.skiff.local"
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "crd", crd, "--ignore-not-found") })
	if out, err := cluster.KubectlStdin(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: `+crd+`}
spec:
  group: operator.e2e.skiff.local
  scope: Namespaced
  names: {plural: echoes, singular: echo, kind: Echo, listKind: EchoList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {message: {type: string}, copies: {type: integer, minimum: 0}}}
          status: {type: object, properties: {readyCopies: {type: integer}}}
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	cluster.MustKubectl(t, "wait", "--for", "condition=established", "crd/"+crd, "--timeout=20s")

	logPath := filepath.Join(t.TempDir(), "operator.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	op := exec.Command(bin, "--kubeconfig", cluster.Kubeconfig, "--leader-election-namespace", n)
	op.Stdout, op.Stderr = logFile, logFile
	if err := op.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = op.Process.Kill()
		_ = op.Wait()
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("operator log:\n%s", log)
		}
	})

	eventually(t, "the operator holds its Lease", func(out string) bool { return out != "" },
		"-n", n, "get", "lease", "echo-operator", "-o", "jsonpath={.spec.holderIdentity}")
	if out, err := cluster.KubectlStdin(`apiVersion: operator.e2e.skiff.local/v1
kind: Echo
metadata: {name: e1}
spec: {message: hello, copies: 3}
`, "-n", n, "apply", "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	eventually(t, "status through the status subresource", func(out string) bool { return out == "3" },
		"-n", n, "get", "echo", "e1", "-o", "jsonpath={.status.readyCopies}")
	owned := []string{"-n", n, "get", "configmaps", "-o", `jsonpath={range .items[?(@.metadata.ownerReferences[0].name=="e1")]}{.metadata.name}={.data.message} {end}`}
	if got := cluster.MustKubectl(t, owned...); got != "e1-0=hello e1-1=hello e1-2=hello " {
		t.Errorf("ConfigMaps owned by e1: %q", got)
	}
	if got := cluster.MustKubectl(t, "-n", n, "get", "echo", "e1", "-o", "jsonpath={.metadata.finalizers}"); !strings.Contains(got, "operator.e2e.skiff.local/farewell") {
		t.Errorf("finalizers of e1: %s", got)
	}
	cluster.MustKubectl(t, "-n", n, "patch", "echo", "e1", "--type=merge", "-p", `{"spec":{"copies":1,"message":"bye"}}`)
	eventually(t, "scaled down to one ConfigMap", func(out string) bool { return out == "e1-0=bye " }, owned...)
	eventually(t, "status follows", func(out string) bool { return out == "1" },
		"-n", n, "get", "echo", "e1", "-o", "jsonpath={.status.readyCopies}")

	cluster.MustKubectl(t, "-n", n, "delete", "echo", "e1", "--timeout=30s")
	if got := cluster.MustKubectl(t, "-n", n, "get", "configmap", "echo-farewells", "-o", "jsonpath={.data.e1}"); got != "deleted" {
		t.Errorf("the finalizer did not record e1's deletion: %q", got)
	}
	eventually(t, "the garbage collector removes e1's ConfigMaps", func(out string) bool { return out == "" },
		"-n", n, "get", "configmaps", "-l", "!kubernetes.io/nothing", "-o", `jsonpath={.items[?(@.metadata.ownerReferences)].metadata.name}`)
}
