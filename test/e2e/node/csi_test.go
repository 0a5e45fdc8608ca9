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

const csiDriver = "hostpath.csi.k8s.io"

// csiHostpathManifest deploys the toolbox's CSI hostpath driver the way the upstream
// hostpath driver is deployed: a CSIDriver, and a DaemonSet with the driver and a
// node-driver-registrar sidecar. kubeletDir is the node's kubelet directory
// (<data dir>/agent/kubelet for the server's node), which stands in for
// /var/lib/kubelet in the upstream manifests.
func csiHostpathManifest(kubeletDir, stateDir string) string {
	return `
apiVersion: storage.k8s.io/v1
kind: CSIDriver
metadata: {name: ` + csiDriver + `}
spec:
  attachRequired: true
  podInfoOnMount: true
  volumeLifecycleModes: [Persistent, Ephemeral]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: csi-hostpathplugin}
spec:
  selector: {matchLabels: {app: csi-hostpathplugin}}
  template:
    metadata: {labels: {app: csi-hostpathplugin}}
    spec:
      terminationGracePeriodSeconds: 1
      nodeSelector: {kubernetes.io/hostname: e2e-main}
      containers:
      - name: hostpath
        image: ` + toolbox + `
        command: [/toolbox, csi-hostpath, --endpoint, /csi/csi.sock, --nodeid, $(NODE_NAME), --state-dir, /csi-data-dir]
        env:
        - name: NODE_NAME
          valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
        securityContext: {privileged: true}
        volumeMounts:
        - {name: socket-dir, mountPath: /csi}
        - {name: mountpoint-dir, mountPath: ` + kubeletDir + `/pods, mountPropagation: Bidirectional}
        - {name: plugins-dir, mountPath: ` + kubeletDir + `/plugins, mountPropagation: Bidirectional}
        - {name: csi-data-dir, mountPath: /csi-data-dir, mountPropagation: Bidirectional}
      - name: node-driver-registrar
        image: ` + toolbox + `
        command: [/toolbox, csi-registrar, --csi-address, /csi/csi.sock,
          --kubelet-registration-path, ` + kubeletDir + `/plugins/` + csiDriver + `/csi.sock]
        volumeMounts:
        - {name: socket-dir, mountPath: /csi}
        - {name: registration-dir, mountPath: /registration}
      volumes:
      - name: socket-dir
        hostPath: {path: ` + kubeletDir + `/plugins/` + csiDriver + `, type: DirectoryOrCreate}
      - name: mountpoint-dir
        hostPath: {path: ` + kubeletDir + `/pods, type: DirectoryOrCreate}
      - name: plugins-dir
        hostPath: {path: ` + kubeletDir + `/plugins, type: Directory}
      - name: registration-dir
        hostPath: {path: ` + kubeletDir + `/plugins_registry, type: Directory}
      - name: csi-data-dir
        hostPath: {path: ` + stateDir + `, type: DirectoryOrCreate}
`
}

// TestCSIHostpathDriver: the CSI hostpath driver, deployed as a DaemonSet with its
// registrar, registers with the node (CSINode lists it); a claim of its class is
// provisioned by CreateVolume, attached through a VolumeAttachment, staged and
// published into the pod, which writes to it; an inline CSI volume works too; the
// claim grows while in use (csiExpand), is snapshotted, restored and cloned
// (csiSnapshotRestore); a CreateVolume that fails or hangs shows on its claim
// (csiProvisionFails), and so do failed expansion, attach and snapshot
// (csiDriverErrors); VolumeAttributesClasses are applied at CreateVolume and by
// ControllerModifyVolume (csiVolumeAttributes); an agent restart keeps what is staged, and unstages the
// volumes of a pod deleted meanwhile (csiStagingSurvivesRestart); deleting pods,
// snapshot and claims unpublishes, detaches and deletes the volumes and the snapshot.
func TestCSIHostpathDriver(t *testing.T) {
	n := ns(t, "csi")
	kubeletDir := filepath.Join(cluster.Dir, "agent", "kubelet")
	// Under the kubelet directory, which the agent makes a shared mount: the driver
	// mounts each volume's tmpfs there (Bidirectional), and the host sees it.
	stateDir := filepath.Join(kubeletDir, "plugins", "csi-hostpath-data")
	apply(t, n, csiHostpathManifest(kubeletDir, stateDir))
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("-n", n, "delete", "daemonset", "csi-hostpathplugin", "--wait=true", "--timeout=60s")
		_, _ = cluster.Kubectl("delete", "csidriver", csiDriver, "--ignore-not-found")
		_, _ = cluster.Kubectl("delete", "storageclass", "csi-hostpath-sc", "--ignore-not-found")
		_, _ = cluster.Kubectl("delete", "volumesnapshotclass", "csi-hostpath-snapclass", "--ignore-not-found")
	})
	framework.Eventually(t, 2*time.Minute, func() error {
		got, _ := cluster.Kubectl("get", "csinode", "e2e-main", "-o", "jsonpath={.spec.drivers[*].name}/{.spec.drivers[*].nodeID}")
		if got != csiDriver+"/e2e-main" {
			pods, _ := cluster.Kubectl("-n", n, "get", "pods", "-o", "wide")
			return fmt.Errorf("csinode e2e-main drivers %q\n%s", got, pods)
		}
		return nil
	})

	apply(t, n, `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: csi-hostpath-sc}
provisioner: `+csiDriver+`
reclaimPolicy: Delete
volumeBindingMode: WaitForFirstConsumer
allowVolumeExpansion: true
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: csi-pvc}
spec:
  storageClassName: csi-hostpath-sc
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: csi-app}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: inline, mountPath: /inline}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: csi-pvc}
  - name: inline
    csi: {driver: `+csiDriver+`}
`)
	framework.Eventually(t, 90*time.Second, func() error {
		if phase := get(t, n, "csi-app", "{.status.phase}"); phase != "Running" {
			desc, _ := cluster.Kubectl("-n", n, "describe", "pod/csi-app", "pvc/csi-pvc")
			return fmt.Errorf("pod csi-app %s\n%s", phase, desc)
		}
		return nil
	})
	waitClaim(t, n, "csi-pvc", "{.status.phase}", "Bound", 10*time.Second)
	pv := cluster.MustKubectl(t, "-n", n, "get", "pvc", "csi-pvc", "-o", "jsonpath={.spec.volumeName}")
	src := cluster.MustKubectl(t, "get", "pv", pv, "-o", "jsonpath={.spec.csi.driver}/{.spec.csi.volumeHandle}")
	if src != csiDriver+"/"+pv {
		t.Errorf("pv %s csi driver/handle = %q", pv, src)
	}
	attached := cluster.MustKubectl(t, "get", "volumeattachment", "-o",
		"jsonpath={range .items[*]}{.spec.source.persistentVolumeName}={.status.attached};{end}")
	if !strings.Contains(attached, pv+"=true") {
		t.Errorf("no attached VolumeAttachment for %s: %q", pv, attached)
	}
	for _, dir := range []string{"/data", "/inline"} {
		if _, err := execOut(n, "csi-app", "", "sh", "-c", "echo csi > "+dir+"/note"); err != nil {
			t.Fatal(err)
		}
	}
	if data, err := os.ReadFile(filepath.Join(stateDir, pv, "note")); err != nil || string(data) != "csi\n" {
		t.Errorf("the note in the driver's volume %s = %q, %v", pv, data, err)
	}
	t.Logf("kubectl get csinode,csidriver,volumeattachment,pv\n%s",
		cluster.MustKubectl(t, "get", "csinode,csidriver,volumeattachment,pv"))

	csiExpand(t, n, "csi-app", "csi-pvc")
	csiSnapshotRestore(t, n, "csi-pvc")
	csiProvisionFails(t, n)
	csiDriverErrors(t, n)
	csiVolumeAttributes(t, n)
	csiStagingSurvivesRestart(t, n, kubeletDir, "csi-restored-app", "csi-restored", "csi-clone")
	waitExec(t, 30*time.Second, n, "csi-app", "", equals("csi\n"), "cat", "/data/note")

	cluster.MustKubectl(t, "-n", n, "delete", "pod", "csi-app")
	cluster.MustKubectl(t, "-n", n, "delete", "volumesnapshot", "csi-snap")
	cluster.MustKubectl(t, "-n", n, "delete", "pvc", "csi-pvc", "csi-restored", "csi-clone")
	gone(t, time.Minute, "volume "+pv, "get", "pv", pv)
	framework.Eventually(t, 30*time.Second, func() error {
		if _, err := os.Stat(filepath.Join(stateDir, pv)); !os.IsNotExist(err) {
			return fmt.Errorf("volume directory of %s still there (%v)", pv, err)
		}
		if vas, _ := cluster.Kubectl("get", "volumeattachment", "-o", "name"); vas != "" {
			return fmt.Errorf("attachments left: %s", vas)
		}
		if entries, _ := os.ReadDir(stateDir); len(entries) != 0 {
			return fmt.Errorf("inline volume left in %s: %v", stateDir, entries)
		}
		return nil
	})
}
