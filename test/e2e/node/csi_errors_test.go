package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// csiDriverErrors: a driver that refuses to grow, attach or snapshot a volume (the
// hostpath driver does on request: a size above its maximum, a class parameter
// kept in the volume's context, a snapshot class parameter) shows it where a user
// looks: the claim gets a VolumeResizeFailed event, a ControllerResizeError
// condition and ControllerResizeInfeasible; the VolumeAttachment an attachError
// and the waiting pod a FailedAttachVolume event; the VolumeSnapshot a
// status.error and a SnapshotCreationFailed event. Pod, snapshot and claim are
// then deleted at once, and their attachment, content and volume go with them.
func csiDriverErrors(t *testing.T, n string) {
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "storageclass", "csi-hostpath-broken", "--ignore-not-found")
		_, _ = cluster.Kubectl("delete", "volumesnapshotclass", "csi-hostpath-broken", "--ignore-not-found")
	})
	apply(t, n, `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: csi-hostpath-broken}
provisioner: `+csiDriver+`
allowVolumeExpansion: true
parameters: {failAttach: no path to the node}
---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshotClass
metadata: {name: csi-hostpath-broken}
driver: `+csiDriver+`
deletionPolicy: Delete
parameters: {fail: no room for snapshots}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: broken}
spec:
  storageClassName: csi-hostpath-broken
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Mi}}
`)
	waitClaim(t, n, "broken", "{.status.phase}", "Bound", 30*time.Second)
	pv := cluster.MustKubectl(t, "-n", n, "get", "pvc", "broken", "-o", "jsonpath={.spec.volumeName}")
	apply(t, n, `
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata: {name: broken}
spec:
  volumeSnapshotClassName: csi-hostpath-broken
  source: {persistentVolumeClaimName: broken}
---
apiVersion: v1
kind: Pod
metadata: {name: broken}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: broken}
`)
	cluster.MustKubectl(t, "-n", n, "patch", "pvc", "broken", "-p", `{"spec":{"resources":{"requests":{"storage":"2Ti"}}}}`)

	waitEvent(t, n, "broken", "VolumeResizeFailed", "ControllerExpandVolume: rpc error: code = OutOfRange desc = requested capacity 2199023255552 exceeds maximum allowed")
	framework.Eventually(t, 30*time.Second, func() error {
		got, _ := cluster.Kubectl("-n", n, "get", "pvc", "broken", "-o",
			`jsonpath={.status.allocatedResourceStatuses.storage}/{.status.conditions[?(@.type=="ControllerResizeError")].status}/{.status.capacity.storage}`)
		if got != "ControllerResizeInfeasible/True/1Mi" {
			return fmt.Errorf("claim resize status/ControllerResizeError/capacity = %q", got)
		}
		return nil
	})
	waitEvent(t, n, "broken", "FailedAttachVolume", "asked to fail attaching: no path to the node")
	va := cluster.MustKubectl(t, "get", "volumeattachment", "-o",
		`jsonpath={range .items[?(@.spec.source.persistentVolumeName=="`+pv+`")]}{.status.attached}/{.status.attachError.message}{end}`)
	if !strings.HasPrefix(va, "false/ControllerPublishVolume: rpc error: code = Unavailable") {
		t.Errorf("the VolumeAttachment of %s (attached/attachError) = %q", pv, va)
	}
	waitEvent(t, n, "broken", "SnapshotCreationFailed", "asked to fail: no room for snapshots")
	if got := cluster.MustKubectl(t, "-n", n, "get", "volumesnapshot", "broken", "-o", "jsonpath={.status.readyToUse}/{.status.error.message}"); !strings.HasPrefix(got, "false/CreateSnapshot: rpc error: code = ResourceExhausted") {
		t.Errorf("snapshot readyToUse/error = %q", got)
	}
	if phase := get(t, n, "broken", "{.status.phase}"); phase != "Pending" {
		t.Errorf("pod broken is %s, want Pending", phase)
	}

	deletesCleanly(t, n, "pod/broken", "volumesnapshot/broken", "pvc/broken")
	gone(t, 30*time.Second, "volume "+pv, "get", "pv", pv)
	if left := cluster.MustKubectl(t, "get", "volumeattachment,volumesnapshotcontent", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.spec.source}{"\n"}{end}`); strings.Contains(left, pv) {
		t.Errorf("left after deletion:\n%s", left)
	}
}
