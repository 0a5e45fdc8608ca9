package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// csiVolumeAttributes: VolumeAttributesClasses of the hostpath driver (which
// writes a volume's mutable parameters into it, .volume-attributes) act as in
// Kubernetes. A pod's claim of class silver is made by CreateVolume with silver's
// parameters and its volume records the class; its other claim names a class not
// there yet and waits, saying so, until the class is created. `kubectl delete vac
// silver` waits while the claim uses it. Patching the claim to gold modifies the
// volume in place (the pod reads gold's parameters, the claim's current class and
// the volume's class are gold), and silver, no longer used, goes. A class the
// driver refuses leaves the claim Infeasible with a VolumeModifyFailed event and
// the volume as it was; naming gold again drops the failed modification.
func csiVolumeAttributes(t *testing.T, n string) {
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "vac", "silver", "gold", "platinum", "broken", "--ignore-not-found", "--wait=false")
	})
	classes := ""
	for _, c := range []struct{ name, params string }{
		{"silver", `{iops: "100", tier: silver}`}, {"gold", `{iops: "500", tier: gold}`}, {"broken", `{fail: invalid}`},
	} {
		classes += `
apiVersion: storage.k8s.io/v1
kind: VolumeAttributesClass
metadata: {name: ` + c.name + `}
driverName: ` + csiDriver + `
parameters: ` + c.params + `
---`
	}
	apply(t, n, classes+`
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: vac-data}
spec:
  storageClassName: csi-hostpath-sc
  volumeAttributesClassName: silver
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 16Mi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: vac-later}
spec:
  storageClassName: csi-hostpath-sc
  volumeAttributesClassName: platinum
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 16Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: vac-app}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts: [{name: data, mountPath: /data}, {name: later, mountPath: /later}]
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: vac-data}}
  - {name: later, persistentVolumeClaim: {claimName: vac-later}}
`)
	waitEvent(t, n, "vac-later", "ProvisioningFailed", `VolumeAttributesClass "platinum" not found; the claim waits until it is created`)
	if phase := cluster.MustKubectl(t, "-n", n, "get", "pvc", "vac-later", "-o", "jsonpath={.status.phase}"); phase != "Pending" {
		t.Errorf("claim of a missing class is %s, want Pending", phase)
	}
	apply(t, n, `
apiVersion: storage.k8s.io/v1
kind: VolumeAttributesClass
metadata: {name: platinum}
driverName: `+csiDriver+`
parameters: {iops: "9000"}
`)
	framework.Eventually(t, 90*time.Second, func() error {
		if phase := get(t, n, "vac-app", "{.status.phase}"); phase != "Running" {
			desc, _ := cluster.Kubectl("-n", n, "describe", "pod/vac-app", "pvc/vac-data", "pvc/vac-later")
			return fmt.Errorf("pod vac-app %s\n%s", phase, desc)
		}
		return nil
	})
	waitClaim(t, n, "vac-data", "{.status.currentVolumeAttributesClassName}", "silver", 10*time.Second)
	waitClaim(t, n, "vac-later", "{.status.currentVolumeAttributesClassName}", "platinum", 10*time.Second)
	attributes := func(want string) {
		t.Helper()
		waitExec(t, 30*time.Second, n, "vac-app", "", equals(want), "cat", "/data/.volume-attributes")
	}
	attributes("iops=100\ntier=silver\n")
	waitExec(t, 10*time.Second, n, "vac-app", "", equals("iops=9000\n"), "cat", "/later/.volume-attributes")
	pv := cluster.MustKubectl(t, "-n", n, "get", "pvc", "vac-data", "-o", "jsonpath={.spec.volumeName}")
	volumeClass := func() string {
		return cluster.MustKubectl(t, "get", "pv", pv, "-o", "jsonpath={.spec.volumeAttributesClassName}")
	}
	if got := volumeClass(); got != "silver" {
		t.Errorf("volume %s class %q, want silver", pv, got)
	}

	cluster.MustKubectl(t, "delete", "vac", "silver", "--wait=false")
	time.Sleep(2 * time.Second) // the protection controller had time to let it go, were it unused
	if got, err := cluster.Kubectl("get", "vac", "silver", "-o", "jsonpath={.metadata.finalizers}/{.metadata.deletionTimestamp}"); err != nil ||
		!strings.HasPrefix(got, `["kubernetes.io/vac-protection"]/2`) {
		t.Errorf("silver, deleted while in use: %q %v, want it kept by its finalizer", got, err)
	}

	cluster.MustKubectl(t, "-n", n, "patch", "pvc", "vac-data", "-p", `{"spec":{"volumeAttributesClassName":"gold"}}`)
	waitClaim(t, n, "vac-data", "{.status.currentVolumeAttributesClassName}/{.status.modifyVolumeStatus}", "gold/", 30*time.Second)
	attributes("iops=500\ntier=gold\n")
	if got := volumeClass(); got != "gold" {
		t.Errorf("volume %s class %q after the modification, want gold", pv, got)
	}
	waitEvent(t, n, "vac-data", "VolumeModifySuccessful", "with vac gold")
	gone(t, 30*time.Second, "vac silver", "get", "vac", "silver")

	cluster.MustKubectl(t, "-n", n, "patch", "pvc", "vac-data", "-p", `{"spec":{"volumeAttributesClassName":"broken"}}`)
	waitClaim(t, n, "vac-data", "{.status.modifyVolumeStatus.targetVolumeAttributesClassName}/{.status.modifyVolumeStatus.status}/{.status.currentVolumeAttributesClassName}",
		"broken/Infeasible/gold", 30*time.Second)
	waitEvent(t, n, "vac-data", "VolumeModifyFailed", "code = InvalidArgument desc = asked to fail: invalid")
	attributes("iops=500\ntier=gold\n")
	t.Logf("kubectl get pvc,vac\n%s", cluster.MustKubectl(t, "-n", n, "get", "pvc,vac"))
	cluster.MustKubectl(t, "-n", n, "patch", "pvc", "vac-data", "-p", `{"spec":{"volumeAttributesClassName":"gold"}}`)
	waitClaim(t, n, "vac-data", `{.status.modifyVolumeStatus}/{.status.conditions[?(@.type=="ModifyVolumeError")]}`, "/", 30*time.Second)

	deletesCleanly(t, n, "pod/vac-app", "pvc/vac-data", "pvc/vac-later")
}
