package apiserver_test

import (
	"strings"
	"testing"
	"time"
)

// A MutatingAdmissionPolicy that sets every new Deployment in namespaces labelled
// policy=defaults to 2 replicas unless it asked for more, and annotates it.
const mutatingPolicy = `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicy
metadata:
  name: deployment-defaults
spec:
  matchConstraints:
    resourceRules:
    - apiGroups: ["apps"]
      apiVersions: ["v1"]
      operations: ["CREATE"]
      resources: ["deployments"]
  reinvocationPolicy: Never
  mutations:
  - patchType: ApplyConfiguration
    applyConfiguration:
      expression: >
        Object{
          metadata: Object.metadata{annotations: {"checked-by": "deployment-defaults"}},
          spec: Object.spec{replicas: object.spec.replicas < 2 ? 2 : object.spec.replicas}
        }
---
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingAdmissionPolicyBinding
metadata:
  name: deployment-defaults
spec:
  policyName: deployment-defaults
  matchResources:
    namespaceSelector:
      matchLabels:
        policy: defaults
`

func TestMutatingAdmissionPolicy(t *testing.T) {
	n := ns(t, "mutating-policy")
	cluster.MustKubectl(t, "label", "namespace", n, "policy=defaults")
	if _, err := cluster.KubectlStdin(mutatingPolicy, "apply", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "mutatingadmissionpolicybinding,mutatingadmissionpolicy", "deployment-defaults")
	})
	if out := cluster.MustKubectl(t, "get", "mutatingadmissionpolicies"); !containsRow(out, []string{"deployment-defaults", "1", "<unset>"}) {
		t.Errorf("kubectl get mutatingadmissionpolicies:\n%s", out)
	}
	// The plugin sees a new policy once its informers do: retry the create for a while.
	var got string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		_, _ = cluster.Kubectl("-n", n, "delete", "deploy", "web", "--ignore-not-found")
		cluster.MustKubectl(t, "-n", n, "create", "deployment", "web", "--image=skiff.local/toolbox:1", "--replicas=1")
		got = jsonpath(t, "{.spec.replicas},{.metadata.annotations.checked-by}", "-n", n, "get", "deploy", "web")
		if got == "2,deployment-defaults" {
			break
		}
	}
	if got != "2,deployment-defaults" {
		t.Fatalf("replicas,annotation = %q, want 2,deployment-defaults", got)
	}
	cluster.MustKubectl(t, "-n", n, "create", "deployment", "big", "--image=skiff.local/toolbox:1", "--replicas=4")
	if got := jsonpath(t, "{.spec.replicas}", "-n", n, "get", "deploy", "big"); got != "4" {
		t.Errorf("a Deployment asking for 4 replicas got %s", got)
	}
	// Outside the labelled namespaces the binding does not match.
	other := ns(t, "mutating-policy-other")
	cluster.MustKubectl(t, "-n", other, "create", "deployment", "web", "--image=skiff.local/toolbox:1", "--replicas=1")
	if got := jsonpath(t, "{.spec.replicas}", "-n", other, "get", "deploy", "web"); got != "1" {
		t.Errorf("a Deployment outside the binding's namespaces got %s replicas", got)
	}

	bad := strings.Replace(strings.Split(mutatingPolicy, "---")[0], "name: deployment-defaults", "name: broken", 1)
	bad = strings.Replace(bad, "replicas: object.spec.replicas < 2", "replicas: object.spec.replicas <", 1)
	_, err := cluster.KubectlStdin(bad, "apply", "-f", "-")
	if err == nil || !strings.Contains(err.Error(), "is invalid: spec.mutations[0].applyConfiguration.expression") {
		t.Fatalf("a policy whose CEL does not compile: %v", err)
	}
	if _, err := cluster.Kubectl("get", "mutatingadmissionpolicy", "broken"); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Errorf("the refused policy was stored: %v", err)
	}
}
