package apiserver_test

import (
	"strings"
	"testing"
)

// TestRuntimeClassAdmission: a pod naming a RuntimeClass gets the class's overhead
// and scheduling; a pod naming a missing (or deleted) class, or setting an overhead
// of its own, is refused with 403; the handler cannot be changed.
func TestRuntimeClassAdmission(t *testing.T) {
	n := ns(t, "rtc")
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "runtimeclass", "sandboxed", "--ignore-not-found") })
	cluster.MustKubectl(t, "api-resources", "--api-group=node.k8s.io")
	if _, err := cluster.KubectlStdin(`apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: sandboxed}
handler: runsc
overhead: {podFixed: {cpu: 250m, memory: 64Mi}}
scheduling:
  nodeSelector: {sandbox: "yes"}
  tolerations: [{key: sandbox, operator: Exists, effect: NoSchedule}]
`, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if out := cluster.MustKubectl(t, "get", "runtimeclass", "sandboxed"); !strings.Contains(out, "HANDLER") || !strings.Contains(out, "runsc") {
		t.Errorf("kubectl get runtimeclass:\n%s", out)
	}
	pod := func(name, extra string) string {
		return `apiVersion: v1
kind: Pod
metadata: {name: ` + name + `}
spec:
  ` + extra + `
  containers: [{name: c, image: skiff.local/toolbox:1}]
`
	}
	if _, err := cluster.KubectlStdin(pod("p1", "runtimeClassName: sandboxed"), "-n", n, "create", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	got := jsonpath(t, "{.spec.overhead.cpu},{.spec.overhead.memory},{.spec.nodeSelector.sandbox},{.spec.tolerations[?(@.key=='sandbox')].effect}", "-n", n, "get", "pod", "p1")
	if got != "250m,64Mi,yes,NoSchedule" {
		t.Errorf("overhead, nodeSelector, toleration = %q, want 250m,64Mi,yes,NoSchedule", got)
	}
	for _, tt := range []struct{ name, extra, want string }{
		{"p2", "runtimeClassName: missing", `RuntimeClass "missing" not found`},
		{"p3", "overhead: {cpu: 1}", "Pod Overhead set without corresponding RuntimeClass defined Overhead"},
		{"p4", "runtimeClassName: sandboxed\n  nodeSelector: {sandbox: 'no'}", "conflict: runtimeClass.scheduling.nodeSelector[sandbox]"},
	} {
		_, err := cluster.KubectlStdin(pod(tt.name, tt.extra), "-n", n, "create", "-f", "-")
		if err == nil || !strings.Contains(err.Error(), "(Forbidden)") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want Forbidden: %s", tt.name, err, tt.want)
		}
	}
	if _, err := cluster.Kubectl("patch", "runtimeclass", "sandboxed", "--type=merge", "-p", `{"handler":"runc"}`); err == nil || !strings.Contains(err.Error(), "field is immutable") {
		t.Errorf("changing the handler: %v", err)
	}
	cluster.MustKubectl(t, "delete", "runtimeclass", "sandboxed")
	_, err := cluster.KubectlStdin(pod("p5", "runtimeClassName: sandboxed"), "-n", n, "create", "-f", "-", "--dry-run=server")
	if err == nil || !strings.Contains(err.Error(), `RuntimeClass "sandboxed" not found`) {
		t.Errorf("a pod naming the deleted class: %v", err)
	}
}
