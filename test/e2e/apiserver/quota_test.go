package apiserver_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

func podManifest(ns, name, extra string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s}
spec:
  %s
  containers: [{name: c, image: skiff.local/pause}]
`, name, ns, extra)
}

// refused applies manifest and wants it refused with want in the message.
func refused(t *testing.T, manifest, want string) {
	t.Helper()
	out, err := cluster.KubectlStdin(manifest, "apply", "-f", "-")
	if err == nil || !strings.Contains(err.Error()+out, want) {
		t.Errorf("apply: %v %s, want refused with %q", err, out, want)
	}
}

// TestQuotaTerminatingScopeSelector: quotas that select pods by a scope selector
// on NotTerminating and Terminating count long-running pods and pods with an active
// deadline apart; a pod given a deadline moves from one to the other, charged to the
// new one at once. A selector that Kubernetes refuses is refused naming the field.
func TestQuotaTerminatingScopeSelector(t *testing.T) {
	n := ns(t, "quota-scopes")
	kubectlApply(t, `apiVersion: v1
kind: ResourceQuota
metadata: {name: long-running, namespace: `+n+`}
spec:
  hard: {pods: "1"}
  scopeSelector:
    matchExpressions: [{scopeName: NotTerminating, operator: Exists}]
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: deadline, namespace: `+n+`}
spec:
  hard: {pods: "2"}
  scopeSelector:
    matchExpressions: [{scopeName: Terminating, operator: Exists}]
`)
	const deadline = "activeDeadlineSeconds: 3600"
	kubectlApply(t, podManifest(n, "long-1", ""))
	refused(t, podManifest(n, "long-2", ""),
		`pods "long-2" is forbidden: exceeded quota: long-running, requested: pods=1, used: pods=1, limited: pods=1`)
	kubectlApply(t, podManifest(n, "short-1", deadline))

	// long-1 given a deadline fills the Terminating quota at once, and leaves
	// room under NotTerminating once the controller has recounted.
	cluster.MustKubectl(t, "-n", n, "patch", "pod", "long-1", "-p", `{"spec":{"activeDeadlineSeconds":3600}}`)
	refused(t, podManifest(n, "short-2", deadline),
		`pods "short-2" is forbidden: exceeded quota: deadline, requested: pods=1, used: pods=2, limited: pods=2`)
	framework.Eventually(t, 20*time.Second, func() error {
		if out, err := cluster.KubectlStdin(podManifest(n, "long-2", ""), "apply", "-f", "-"); err != nil {
			return fmt.Errorf("%v %s", err, out)
		}
		return nil
	})
	if got := jsonpath(t, "{.status.used.pods}", "-n", n, "get", "quota", "deadline"); got != "2" {
		t.Errorf("Terminating quota uses %s pods, want 2", got)
	}

	refused(t, `apiVersion: v1
kind: ResourceQuota
metadata: {name: bad, namespace: `+n+`}
spec:
  hard: {pods: "1"}
  scopeSelector:
    matchExpressions: [{scopeName: Terminating, operator: In, values: ["yes"]}]
`, `spec.scopeSelector.matchExpressions[0].operator: Invalid value: "In": must be 'Exists' when scope is any of ResourceQuotaScopeTerminating`)
	refused(t, `apiVersion: v1
kind: ResourceQuota
metadata: {name: bad, namespace: `+n+`}
spec:
  hard: {services: "1"}
  scopeSelector:
    matchExpressions: [{scopeName: NotTerminating, operator: Exists}]
`, `spec.scopeSelector.matchExpressions[0].scopeName: Invalid value: "NotTerminating": unsupported scope applied to resource`)
}

// TestQuotaClaimsByClass: a quota on a volume attributes class counts the claims
// that name it, and a quota on ResourceClaims charges the devices they ask for per
// device class, refusing a claim past either (skiff does not allocate devices, but
// what a claim asks for is known when it is written).
func TestQuotaClaimsByClass(t *testing.T) {
	n := ns(t, "quota-classes")
	kubectlApply(t, `apiVersion: v1
kind: ResourceQuota
metadata: {name: gold-volumes, namespace: `+n+`}
spec:
  hard: {persistentvolumeclaims: "1", requests.storage: 5Gi}
  scopeSelector:
    matchExpressions: [{scopeName: VolumeAttributesClass, operator: In, values: [gold]}]
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: gold-devices, namespace: `+n+`}
spec:
  hard: {count/resourceclaims.resource.k8s.io: "5", gold.deviceclass.resource.k8s.io/devices: "2"}
`)
	claim := func(name, class string) string {
		return fmt.Sprintf(`apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: %s, namespace: %s}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: ""
  volumeAttributesClassName: %s
  resources: {requests: {storage: 1Gi}}
`, name, n, class)
	}
	kubectlApply(t, claim("gold-1", "gold"))
	kubectlApply(t, claim("silver-1", "silver"))
	refused(t, claim("gold-2", "gold"),
		`persistentvolumeclaims "gold-2" is forbidden: exceeded quota: gold-volumes, requested: persistentvolumeclaims=1, used: persistentvolumeclaims=1, limited: persistentvolumeclaims=1`)

	devices := func(name string, count int) string {
		return fmt.Sprintf(`apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: %s, namespace: %s}
spec:
  devices:
    requests:
    - name: gpu
      exactly: {deviceClassName: gold, count: %d}
`, name, n, count)
	}
	kubectlApply(t, devices("two", 2))
	refused(t, devices("one-more", 1),
		`resourceclaims.resource.k8s.io "one-more" is forbidden: exceeded quota: gold-devices, requested: gold.deviceclass.resource.k8s.io/devices=1, used: gold.deviceclass.resource.k8s.io/devices=2, limited: gold.deviceclass.resource.k8s.io/devices=2`)
	cluster.MustKubectl(t, "-n", n, "delete", "resourceclaim", "two")
	framework.Eventually(t, 20*time.Second, func() error {
		if out, err := cluster.KubectlStdin(devices("one-more", 1), "apply", "-f", "-"); err != nil {
			return fmt.Errorf("%v %s", err, out)
		}
		return nil
	})
	if got := jsonpath(t, `{.status.used.count/resourceclaims\.resource\.k8s\.io}`, "-n", n, "get", "quota", "gold-devices"); got != "1" {
		t.Errorf("quota counts %s ResourceClaims, want 1", got)
	}
}
