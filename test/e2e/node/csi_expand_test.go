package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// dfKiB is the size in KiB of the filesystem at dir inside a pod, as df reports it.
func dfKiB(t *testing.T, n, pod, dir string) string {
	t.Helper()
	out, err := execOut(n, pod, "", "sh", "-c", "df -k "+dir+" | tail -1 | awk '{print $2}'")
	if err != nil {
		t.Fatalf("df %s in %s: %v", dir, pod, err)
	}
	return strings.TrimSpace(out)
}

// csiExpand: `kubectl patch` asks for 2Gi; the driver grows the volume
// (ControllerExpandVolume, then NodeExpandVolume on the mounted volume), the claim's
// capacity and allocatedResources become 2Gi, and df in the running pod sees it.
func csiExpand(t *testing.T, n, pod, claim string) {
	if got := dfKiB(t, n, pod, "/data"); got != "1048576" {
		t.Errorf("df /data before expansion: %s KiB, want 1048576", got)
	}
	cluster.MustKubectl(t, "-n", n, "patch", "pvc", claim, "-p", `{"spec":{"resources":{"requests":{"storage":"2Gi"}}}}`)
	framework.Eventually(t, time.Minute, func() error {
		if got, _ := cluster.Kubectl("-n", n, "get", "pvc", claim, "-o", "jsonpath={.status.capacity.storage}"); got != "2Gi" {
			desc, _ := cluster.Kubectl("-n", n, "describe", "pvc", claim)
			return fmt.Errorf("capacity %s\n%s", got, desc)
		}
		return nil
	})
	status := cluster.MustKubectl(t, "-n", n, "get", "pvc", claim, "-o",
		"jsonpath={.status.allocatedResources.storage}/{.status.allocatedResourceStatuses}/{.status.conditions}")
	if status != "2Gi//" {
		t.Errorf("claim status after expansion (allocated/statuses/conditions) = %q", status)
	}
	pv := cluster.MustKubectl(t, "-n", n, "get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}")
	if got := cluster.MustKubectl(t, "get", "pv", pv, "-o", "jsonpath={.spec.capacity.storage}"); got != "2Gi" {
		t.Errorf("pv %s capacity = %s", pv, got)
	}
	if got := dfKiB(t, n, pod, "/data"); got != "2097152" {
		t.Errorf("df /data after expansion: %s KiB, want 2097152", got)
	}
	events := cluster.MustKubectl(t, "-n", n, "get", "events", "--field-selector", "involvedObject.name="+claim, "-o", "jsonpath={.items[*].reason}")
	for _, r := range []string{"Resizing", "FileSystemResizeRequired", "FileSystemResizeSuccessful"} {
		if !strings.Contains(events, r) {
			t.Errorf("no %s event on the claim: %s", r, events)
		}
	}
	out, err := cluster.Kubectl("-n", n, "patch", "pvc", claim, "-p", `{"spec":{"resources":{"requests":{"storage":"1Gi"}}}}`)
	if err == nil || !strings.Contains(fmt.Sprint(err), "spec.resources.requests.storage") {
		t.Errorf("shrinking the claim: %v\n%s", err, out)
	}
}

// csiSnapshotRestore: a VolumeSnapshot of the claim becomes readyToUse with a
// restore size; a claim restored from it (dataSource) and one cloned from the claim
// (dataSourceRef) both hold the note the first pod wrote.
func csiSnapshotRestore(t *testing.T, n, claim string) {
	apply(t, n, `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: csi-hostpath-snapclass}
driver: `+csiDriver+`
deletionPolicy: Delete
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: csi-snap}
spec:
  volumeSnapshotClassName: csi-hostpath-snapclass
  source: {persistentVolumeClaimName: `+claim+`}
`)
	framework.Eventually(t, time.Minute, func() error {
		got, _ := cluster.Kubectl("-n", n, "get", "volumesnapshot", "csi-snap", "-o", "jsonpath={.status.readyToUse}/{.status.restoreSize}")
		if got != "true/2Gi" {
			desc, _ := cluster.Kubectl("-n", n, "describe", "volumesnapshot", "csi-snap")
			return fmt.Errorf("snapshot readyToUse/restoreSize %q\n%s", got, desc)
		}
		return nil
	})
	t.Logf("kubectl get volumesnapshot,volumesnapshotcontent\n%s", cluster.MustKubectl(t, "-n", n, "get", "volumesnapshot,volumesnapshotcontent"))
	apply(t, n, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: csi-restored}
spec:
  storageClassName: csi-hostpath-sc
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
  dataSource: {apiGroup: snapshot.storage.k8s.io, kind: VolumeSnapshot, name: csi-snap}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: csi-clone}
spec:
  storageClassName: csi-hostpath-sc
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 2Gi}}
  dataSourceRef: {kind: PersistentVolumeClaim, name: `+claim+`}
---
apiVersion: v1
kind: Pod
metadata: {name: csi-restored-app}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts:
    - {name: restored, mountPath: /restored}
    - {name: clone, mountPath: /clone}
  volumes:
  - name: restored
    persistentVolumeClaim: {claimName: csi-restored}
  - name: clone
    persistentVolumeClaim: {claimName: csi-clone}
`)
	framework.Eventually(t, 90*time.Second, func() error {
		if phase := get(t, n, "csi-restored-app", "{.status.phase}"); phase != "Running" {
			desc, _ := cluster.Kubectl("-n", n, "describe", "pod/csi-restored-app", "pvc/csi-restored", "pvc/csi-clone")
			return fmt.Errorf("pod csi-restored-app %s\n%s", phase, desc)
		}
		return nil
	})
	for _, dir := range []string{"/restored", "/clone"} {
		if got, err := execOut(n, "csi-restored-app", "", "cat", dir+"/note"); err != nil || got != "csi\n" {
			t.Errorf("the note in %s = %q, %v", dir, got, err)
		}
	}
}
