package apiserver_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// boundClaim makes a hostPath volume pre-bound to a claim of class, and waits for
// the PV controller to bind them.
func boundClaim(t *testing.T, n, name, class string) {
	t.Helper()
	manifest := fmt.Sprintf(`
apiVersion: v1
kind: PersistentVolume
metadata: {name: %[1]s-%[2]s}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: %[3]s
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: /tmp/%[1]s-%[2]s}
  claimRef: {namespace: %[1]s, name: %[2]s}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: %[2]s, namespace: %[1]s}
spec:
  storageClassName: %[3]s
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`, n, name, class)
	if out, err := cluster.KubectlStdin(manifest, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "pv", n+"-"+name, "--wait=false") })
	framework.Eventually(t, 30*time.Second, func() error {
		if got, _ := cluster.Kubectl("-n", n, "get", "pvc", name, "-o", "jsonpath={.status.phase}"); got != "Bound" {
			return fmt.Errorf("claim %s is %q", name, got)
		}
		return nil
	})
}

// TestVolumeExpansionAdmission: a bound claim grows only when its class sets
// allowVolumeExpansion, and never shrinks below its capacity; each refusal names
// spec.resources.requests.storage and changes nothing.
func TestVolumeExpansionAdmission(t *testing.T) {
	n := ns(t, "expansion")
	if out, err := cluster.KubectlStdin(`
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: e2e-fixed}
provisioner: example.com/none
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: e2e-growable}
provisioner: example.com/none
allowVolumeExpansion: true
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "storageclass", "e2e-fixed", "e2e-growable") })
	boundClaim(t, n, "fixed", "e2e-fixed")
	boundClaim(t, n, "growable", "e2e-growable")

	grow := func(claim, size string) (string, error) {
		return cluster.Kubectl("-n", n, "patch", "pvc", claim, "-p", `{"spec":{"resources":{"requests":{"storage":"`+size+`"}}}}`)
	}
	out, err := grow("fixed", "2Gi")
	if msg := fmt.Sprint(err); err == nil || !strings.Contains(msg, "spec.resources.requests.storage") || !strings.Contains(msg, "allowVolumeExpansion") {
		t.Errorf("growing a claim of a class without allowVolumeExpansion: %v\n%s", err, out)
	}
	if got := jsonpath(t, "{.spec.resources.requests.storage}", "-n", n, "get", "pvc", "fixed"); got != "1Gi" {
		t.Errorf("refused growth left the request at %s", got)
	}
	if out, err := grow("growable", "2Gi"); err != nil {
		t.Fatalf("growing a claim of a class with allowVolumeExpansion: %v\n%s", err, out)
	}
	if got := jsonpath(t, "{.spec.resources.requests.storage}", "-n", n, "get", "pvc", "growable"); got != "2Gi" {
		t.Errorf("request after growth = %s", got)
	}
	out, err = grow("growable", "500Mi")
	if msg := fmt.Sprint(err); err == nil || !strings.Contains(msg, "spec.resources.requests.storage") || !strings.Contains(msg, "less than status.capacity") {
		t.Errorf("shrinking below the capacity: %v\n%s", err, out)
	}
}

// TestVolumeSnapshotKinds: snapshot.storage.k8s.io/v1 is served from the start, with
// upstream's schema (a snapshot names exactly one source).
func TestVolumeSnapshotKinds(t *testing.T) {
	n := ns(t, "snapshot-kinds")
	got := cluster.MustKubectl(t, "api-resources", "--api-group", "snapshot.storage.k8s.io", "-o", "name")
	for _, r := range []string{"volumesnapshotclasses", "volumesnapshotcontents", "volumesnapshots"} {
		if !strings.Contains(got, r+".snapshot.storage.k8s.io") {
			t.Errorf("api-resources lacks %s:\n%s", r, got)
		}
	}
	if out, err := cluster.KubectlStdin(`
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: e2e-snapclass}
driver: example.com/none
deletionPolicy: Delete
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: snap, namespace: `+n+`}
spec:
  volumeSnapshotClassName: e2e-snapclass
  source: {persistentVolumeClaimName: data}
`, "apply", "-f", "-"); err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "volumesnapshotclass", "e2e-snapclass") })
	if got := jsonpath(t, "{.spec.source.persistentVolumeClaimName}", "-n", n, "get", "vs", "snap"); got != "data" {
		t.Errorf("snapshot source = %q", got)
	}
	out, err := cluster.KubectlStdin(`
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: two-sources, namespace: `+n+`}
spec:
  source: {persistentVolumeClaimName: data, volumeSnapshotContentName: c}
`, "apply", "-f", "-")
	if err == nil || !strings.Contains(fmt.Sprint(err), "exactly one of volumeSnapshotContentName and persistentVolumeClaimName") {
		t.Errorf("a snapshot with two sources: %v\n%s", err, out)
	}
}
