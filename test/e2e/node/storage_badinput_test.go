package node_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// waitEvent waits for an event of reason on the object (a claim, a pod, a
// snapshot) named claim whose message holds text.
func waitEvent(t *testing.T, n, claim, reason, text string) {
	t.Helper()
	framework.Eventually(t, time.Minute, func() error {
		events, _ := cluster.Kubectl("-n", n, "get", "events", "--field-selector", "involvedObject.name="+claim,
			"-o", `jsonpath={range .items[*]}{.reason}: {.message}{"\n"}{end}`)
		for _, e := range strings.Split(events, "\n") {
			if strings.HasPrefix(e, reason+": ") && strings.Contains(e, text) {
				return nil
			}
		}
		return fmt.Errorf("no %s event saying %q on %s:\n%s", reason, text, claim, events)
	})
}

// deletesCleanly deletes objects and expects them gone at once: a claim no pod
// uses keeps no protection finalizer, and nothing else holds it.
func deletesCleanly(t *testing.T, n string, objects ...string) {
	t.Helper()
	args := append([]string{"-n", n, "delete", "--wait=true", "--timeout=30s"}, objects...)
	if out, err := cluster.Kubectl(args...); err != nil {
		t.Errorf("delete %v: %v\n%s", objects, err, out)
	}
	for _, o := range objects {
		if out, err := cluster.Kubectl("-n", n, "get", o, "-o", "jsonpath={.metadata.finalizers}"); err == nil {
			t.Errorf("%s still there after its deletion, finalizers %s", o, out)
		}
	}
}

// TestStorageBadInput: storage asked for wrongly says why on the objects and holds
// nothing up. A StorageClass without a provisioner is refused naming the field and not
// stored; a claim of a class whose provisioner nothing here runs stays Pending with an
// ExternalProvisioning event naming it; a claim larger than the node's disk gets a
// ProvisioningFailed event giving the free space, and its pod stays Pending; each of
// them is deleted at once, with its pod. (A CSI driver's errors: csiProvisionFails.)
func TestStorageBadInput(t *testing.T) {
	n := ns(t, "badstorage")
	out, err := cluster.KubectlStdin("apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: no-provisioner}\n", "apply", "-f", "-")
	if err == nil || !strings.Contains(out+err.Error(), "provisioner") {
		t.Errorf("a StorageClass without a provisioner: %v\n%s", err, out)
	}
	if _, err := cluster.Kubectl("get", "storageclass", "no-provisioner"); err == nil {
		t.Errorf("the refused StorageClass was stored")
	}

	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "storageclass", "nobody-makes-these", "--ignore-not-found") })
	apply(t, n, `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: nobody-makes-these}
provisioner: example.com/nobody
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: external}
spec:
  storageClassName: nobody-makes-these
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: huge}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Ei}}
---
apiVersion: v1
kind: Pod
metadata: {name: huge-app}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: huge}
`)
	waitEvent(t, n, "external", "ExternalProvisioning", `"example.com/nobody"`)
	waitEvent(t, n, "huge", "ProvisioningFailed", "requested 1Ei but")
	for _, c := range []string{"external", "huge"} {
		if phase := cluster.MustKubectl(t, "-n", n, "get", "pvc", c, "-o", "jsonpath={.status.phase}"); phase != "Pending" {
			t.Errorf("claim %s is %s, want Pending", c, phase)
		}
	}
	if phase := get(t, n, "huge-app", "{.status.phase}"); phase != "Pending" {
		t.Errorf("pod huge-app is %s, want Pending", phase)
	}
	deletesCleanly(t, n, "pod/huge-app", "pvc/huge", "pvc/external")
}

// csiProvisionFails: a CSI driver whose CreateVolume fails (the hostpath driver does
// on request, as a full backend would) or hangs shows it on the claim: a
// ProvisioningFailed event with the driver's words, or the deadline the provisioner
// gave up at; the claims stay Pending and are deleted at once.
func csiProvisionFails(t *testing.T, n string) {
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "storageclass", "csi-hostpath-full", "csi-hostpath-hung", "--ignore-not-found")
	})
	for _, c := range []struct{ class, param string }{{"csi-hostpath-full", "fail"}, {"csi-hostpath-hung", "hang"}} {
		apply(t, n, `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: `+c.class+`}
provisioner: `+csiDriver+`
parameters: {`+c.param+`: backend is broken}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: `+c.class+`}
spec:
  storageClassName: `+c.class+`
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`)
	}
	waitEvent(t, n, "csi-hostpath-full", "ProvisioningFailed", "CreateVolume: rpc error: code = ResourceExhausted desc = asked to fail: backend is broken")
	waitEvent(t, n, "csi-hostpath-hung", "ProvisioningFailed", "CreateVolume: rpc error: code = DeadlineExceeded")
	for _, c := range []string{"csi-hostpath-full", "csi-hostpath-hung"} {
		if phase := cluster.MustKubectl(t, "-n", n, "get", "pvc", c, "-o", "jsonpath={.status.phase}"); phase != "Pending" {
			t.Errorf("claim %s is %s, want Pending", c, phase)
		}
	}
	deletesCleanly(t, n, "pvc/csi-hostpath-full", "pvc/csi-hostpath-hung")
}
