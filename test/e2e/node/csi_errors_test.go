package node_test

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"skiff/internal/csi"
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
	t.Logf("kubectl get events --field-selector involvedObject.name=broken\n%s", cluster.MustKubectl(t, "-n", n, "get", "events",
		"--field-selector", "involvedObject.name=broken", "-o", `custom-columns=KIND:.involvedObject.kind,TYPE:.type,REASON:.reason,MESSAGE:.message`))

	deletesCleanly(t, n, "pod/broken", "volumesnapshot/broken", "pvc/broken")
	gone(t, 30*time.Second, "volume "+pv, "get", "pv", pv)
	if left := cluster.MustKubectl(t, "get", "volumeattachment,volumesnapshotcontent", "-o",
		`jsonpath={range .items[*]}{.metadata.name} {.spec.source}{"\n"}{end}`); strings.Contains(left, pv) {
		t.Errorf("left after deletion:\n%s", left)
	}
}

// csiStagingSurvivesRestart: the agent remembers across a restart what it staged
// and published. The server restarts without its agent, the pod is deleted
// meanwhile (forced: no node confirms it), and the server restarts as it was: the
// agent unpublishes the pod's volumes and unstages them through the driver
// (nothing is left mounted at their staging paths), while the other pod, still
// running, keeps its volume.
func csiStagingSurvivesRestart(t *testing.T, n, kubeletDir, pod string, claims ...string) {
	var staging []string
	for _, c := range claims {
		pv := cluster.MustKubectl(t, "-n", n, "get", "pvc", c, "-o", "jsonpath={.spec.volumeName}")
		handle := cluster.MustKubectl(t, "get", "pv", pv, "-o", "jsonpath={.spec.csi.volumeHandle}")
		staging = append(staging, csi.StagingPath(kubeletDir, csiDriver, handle))
	}
	if m := mountedOf(staging); len(m) != len(staging) {
		t.Fatalf("staged before the restart: %v of %v", m, staging)
	}
	args := cluster.Args()
	if err := cluster.Restart(false, append(slices.Clone(args), "--disable-agent")...); err != nil {
		t.Fatal(err)
	}
	cluster.MustKubectl(t, "-n", n, "delete", "pod", pod, "--force", "--grace-period=0")
	if err := cluster.Restart(false, args...); err != nil {
		t.Fatal(err)
	}
	if err := cluster.WaitNodeReady("e2e-main"); err != nil {
		t.Fatal(err)
	}
	framework.Eventually(t, time.Minute, func() error {
		if m := mountedOf(staging); len(m) != 0 {
			return fmt.Errorf("still staged after pod %s was deleted: %v", pod, m)
		}
		return nil
	})
}

// mountedOf are those of paths that are mount points on this machine.
func mountedOf(paths []string) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && slices.Contains(paths, f[4]) {
			out = append(out, f[4])
		}
	}
	return out
}
