package apiserver_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

const gadgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.migration.example}
spec:
  group: migration.example
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: %[1]v
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  - name: v2
    served: true
    storage: %[2]v
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

// TestStorageVersionMigration: after a CRD's storage version moves from v1 to
// v2, a StorageVersionMigration stores again the objects still kept in v1 (their
// resourceVersion moves) and leaves those already in v2 alone; a migration of a
// resource the server does not serve fails and says why.
func TestStorageVersionMigration(t *testing.T) {
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "crd", "gadgets.migration.example", "--ignore-not-found")
		_, _ = cluster.Kubectl("delete", "storageversionmigration", "gadgets", "nothing", "--ignore-not-found")
	})
	apply := func(manifest string) {
		t.Helper()
		if out, err := cluster.KubectlStdin(manifest, "apply", "-f", "-"); err != nil {
			t.Fatalf("apply: %v\n%s", err, out)
		}
	}
	apply(fmt.Sprintf(gadgetCRD, true, false))
	cluster.MustKubectl(t, "wait", "--for=condition=Established", "crd/gadgets.migration.example", "--timeout=30s")
	apply("apiVersion: migration.example/v1\nkind: Gadget\nmetadata: {name: old, namespace: default}\nspec: {size: 1}\n")
	apply(fmt.Sprintf(gadgetCRD, false, true))
	framework.Eventually(t, 30*time.Second, func() error {
		got, _ := cluster.Kubectl("get", "crd", "gadgets.migration.example", "-o", "jsonpath={.status.storedVersions}")
		if !strings.Contains(got, "v2") {
			return fmt.Errorf("storedVersions %s", got)
		}
		return nil
	})
	apply("apiVersion: migration.example/v2\nkind: Gadget\nmetadata: {name: new, namespace: default}\nspec: {size: 2}\n")
	rv := func(name string) string {
		return cluster.MustKubectl(t, "get", "gadgets.migration.example", name, "-o", "jsonpath={.metadata.resourceVersion}")
	}
	oldRV, newRV := rv("old"), rv("new")

	out, err := cluster.KubectlStdin(`apiVersion: storagemigration.k8s.io/v1
kind: StorageVersionMigration
metadata: {name: gadgets}
spec: {resource: {group: migration.example, resource: gadgets}}
---
apiVersion: storagemigration.k8s.io/v1
kind: StorageVersionMigration
metadata: {name: nothing}
spec: {resource: {group: nowhere.example, resource: nothings}}
`, "apply", "-f", "-")
	if err != nil || strings.Contains(out, "Warning") {
		t.Fatalf("apply migrations: %v (no warning expected: migrations act)\n%s", err, out)
	}
	cluster.MustKubectl(t, "wait", "--for=condition=Succeeded", "storageversionmigration/gadgets", "--timeout=30s")
	cluster.MustKubectl(t, "wait", "--for=condition=Failed", "storageversionmigration/nothing", "--timeout=30s")
	msg := cluster.MustKubectl(t, "get", "storageversionmigration", "gadgets", "-o",
		`jsonpath={.status.conditions[?(@.type=="Succeeded")].message}/{.status.resourceVersion}`)
	if !strings.HasPrefix(msg, "1 objects stored again/") || strings.HasSuffix(msg, "/") {
		t.Errorf("gadgets migration: message/resourceVersion = %q, want 1 object rewritten and the resourceVersion it started at", msg)
	}
	if got := rv("old"); got == oldRV {
		t.Errorf("the gadget kept in v1 was not stored again (resourceVersion still %s)", got)
	}
	if got := rv("new"); got != newRV {
		t.Errorf("the gadget already in v2 was stored again (resourceVersion %s → %s)", newRV, got)
	}
	why := cluster.MustKubectl(t, "get", "storageversionmigration", "nothing", "-o", `jsonpath={.status.conditions[?(@.type=="Failed")].message}`)
	if !strings.Contains(why, "does not serve") {
		t.Errorf("failed migration says %q, want that the resource is not served", why)
	}
}
