package node_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"skiff/internal/localpath"
	"skiff/test/e2e/framework"
)

// waitClaim polls a claim field until it equals want.
func waitClaim(t *testing.T, n, claim, path, want string, timeout time.Duration) {
	t.Helper()
	framework.Eventually(t, timeout, func() error {
		got, err := cluster.Kubectl("-n", n, "get", "pvc", claim, "-o", "jsonpath="+path)
		if err != nil || got != want {
			return fmt.Errorf("pvc %s %s = %q (%v), want %q", claim, path, got, err, want)
		}
		return nil
	})
}

// volumeDir is the directory on this machine holding a claim's volume.
func volumeDir(t *testing.T, n, claim string) string {
	t.Helper()
	pv := cluster.MustKubectl(t, "-n", n, "get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}")
	return cluster.MustKubectl(t, "get", "pv", pv, "-o", "jsonpath={.spec.local.path}")
}

func gone(t *testing.T, timeout time.Duration, what string, args ...string) {
	t.Helper()
	framework.Eventually(t, timeout, func() error {
		if out, err := cluster.Kubectl(args...); err == nil {
			return fmt.Errorf("%s still there: %s", what, out)
		}
		return nil
	})
}

// TestDefaultStorageClassProvisionsTheSeedStatefulSet is the seeds' storage story:
// local-path is the default class; a claim that names no class gets it; the mongodb
// StatefulSet's three replicas each get a Bound volume on their node; data survives
// the pod's deletion; scaling down with whenScaled=Delete deletes the claim and
// the Delete reclaim policy removes the directory; so does deleting the set
// with whenDeleted=Delete.
func TestDefaultStorageClassProvisionsTheSeedStatefulSet(t *testing.T) {
	out := cluster.MustKubectl(t, "get", "storageclass")
	if !strings.Contains(out, "local-path (default)") || !strings.Contains(out, "skiff.io/local-path") ||
		!strings.Contains(out, "Delete") || !strings.Contains(out, "WaitForFirstConsumer") {
		t.Fatalf("kubectl get storageclass:\n%s", out)
	}
	n := ns(t, "storage")
	apply(t, n, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: plain}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`)
	waitClaim(t, n, "plain", "{.spec.storageClassName}", "local-path", 10*time.Second)
	framework.Eventually(t, 30*time.Second, func() error {
		desc, _ := cluster.Kubectl("-n", n, "describe", "pvc", "plain")
		if !strings.Contains(desc, "WaitForFirstConsumer") || !strings.Contains(desc, "Pending") {
			return fmt.Errorf("describe pvc plain:\n%s", desc)
		}
		return nil
	})

	// The seed's container runs mongod; the toolbox image stands in for it with a
	// process that stays up (its default command, a shell, exits at once).
	seed, err := os.ReadFile(filepath.Join("..", "testdata", "seeds", "statefulset-mongodb.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	manifest := strings.Replace(string(seed), "image: "+toolbox, "image: "+toolbox+"\n          command: [/toolbox, sleep, infinity]", 1)
	apply(t, n, manifest)
	framework.Eventually(t, 3*time.Minute, func() error {
		got, _ := cluster.Kubectl("-n", n, "get", "sts", "mongodb", "-o", "jsonpath={.status.readyReplicas}")
		if got != "3" {
			state, _ := cluster.Kubectl("-n", n, "get", "pod,pvc", "-o", "wide")
			return fmt.Errorf("readyReplicas %q\n%s", got, state)
		}
		return nil
	})
	for i := range 3 {
		waitClaim(t, n, fmt.Sprintf("mongo-data-mongodb-%d", i), "{.status.phase}", "Bound", 10*time.Second)
	}
	t.Logf("kubectl get storageclass\n%s\nkubectl get pvc,pv\n%s", out, cluster.MustKubectl(t, "-n", n, "get", "pvc,pv"))
	dir0 := volumeDir(t, n, "mongo-data-mongodb-0")
	if !strings.HasPrefix(dir0, cluster.Dir) {
		t.Errorf("volume of mongodb-0 at %s, not under the node's data dir %s", dir0, cluster.Dir)
	}
	sizeEnforcement(t, n, "mongo-data-mongodb-0", filepath.Dir(dir0))

	// Data written by mongodb-0 is there for its replacement.
	if _, err := execOut(n, "mongodb-0", "", "sh", "-c", "echo kept > /data/db/note"); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir0, "note")); err != nil || string(data) != "kept\n" {
		t.Errorf("the note on the node = %q, %v", data, err)
	}
	uid := get(t, n, "mongodb-0", "{.metadata.uid}")
	cluster.MustKubectl(t, "-n", n, "delete", "pod", "mongodb-0")
	framework.Eventually(t, 2*time.Minute, func() error {
		if get(t, n, "mongodb-0", "{.metadata.uid}") == uid || get(t, n, "mongodb-0", "{.status.phase}") != "Running" {
			return fmt.Errorf("mongodb-0 not replaced and running yet")
		}
		return nil
	})
	waitExec(t, 30*time.Second, n, "mongodb-0", "", equals("kept\n"), "cat", "/data/db/note")

	// Scaling down with whenScaled=Delete deletes mongodb-2's claim once the pod
	// is gone; its volume's Delete policy removes the directory.
	dir2 := volumeDir(t, n, "mongo-data-mongodb-2")
	cluster.MustKubectl(t, "-n", n, "patch", "sts", "mongodb", "-p",
		`{"spec":{"replicas":2,"persistentVolumeClaimRetentionPolicy":{"whenScaled":"Delete"}}}`)
	gone(t, 2*time.Minute, "claim of mongodb-2", "-n", n, "get", "pvc", "mongo-data-mongodb-2")
	framework.Eventually(t, 30*time.Second, func() error {
		if _, err := os.Stat(dir2); !os.IsNotExist(err) {
			return fmt.Errorf("directory %s still there (%v)", dir2, err)
		}
		return nil
	})
	waitClaim(t, n, "mongo-data-mongodb-1", "{.status.phase}", "Bound", time.Second)

	// whenDeleted=Delete, set after the claims were made, hands them to the set:
	// deleting the set deletes them, and their directories go.
	dir1 := volumeDir(t, n, "mongo-data-mongodb-1")
	cluster.MustKubectl(t, "-n", n, "patch", "sts", "mongodb", "-p",
		`{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Delete"}}}`)
	framework.Eventually(t, 30*time.Second, func() error {
		owners, _ := cluster.Kubectl("-n", n, "get", "pvc", "mongo-data-mongodb-0", "-o", "jsonpath={.metadata.ownerReferences[*].kind}")
		if owners != "StatefulSet" {
			return fmt.Errorf("claim owners %q", owners)
		}
		return nil
	})
	cluster.MustKubectl(t, "-n", n, "delete", "sts", "mongodb")
	for _, c := range []string{"mongo-data-mongodb-0", "mongo-data-mongodb-1"} {
		gone(t, 2*time.Minute, "claim "+c, "-n", n, "get", "pvc", c)
	}
	framework.Eventually(t, 30*time.Second, func() error {
		for _, d := range []string{dir0, dir1} {
			if _, err := os.Stat(d); !os.IsNotExist(err) {
				return fmt.Errorf("directory %s still there (%v)", d, err)
			}
		}
		return nil
	})
}

// TestRetainAndClaimProtection: a claim in use is not removed until its pod is
// gone; with reclaimPolicy Retain the volume is Released and its data kept; a
// class naming a provisioner nobody runs says what the claim waits for.
func TestRetainAndClaimProtection(t *testing.T) {
	n := ns(t, "retain")
	apply(t, n, `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: e2e-retain}
provisioner: skiff.io/local-path
reclaimPolicy: Retain
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: e2e-nobody}
provisioner: example.com/nobody
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: kept}
spec:
  storageClassName: e2e-retain
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: orphan}
spec:
  storageClassName: e2e-nobody
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: user}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: kept}
`)
	t.Cleanup(func() { _, _ = cluster.Kubectl("delete", "storageclass", "e2e-retain", "e2e-nobody") })
	running(t, n, "user")
	waitClaim(t, n, "kept", "{.status.phase}", "Bound", 10*time.Second)
	dir := volumeDir(t, n, "kept")
	pv := cluster.MustKubectl(t, "-n", n, "get", "pvc", "kept", "-o", "jsonpath={.spec.volumeName}")
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "pv", pv, "--wait=false")
		_ = os.RemoveAll(dir)
	})
	if _, err := execOut(n, "user", "", "sh", "-c", "echo retained > /data/note"); err != nil {
		t.Fatal(err)
	}

	cluster.MustKubectl(t, "-n", n, "delete", "pvc", "kept", "--wait=false")
	time.Sleep(2 * time.Second)
	if status, err := cluster.Kubectl("-n", n, "get", "pvc", "kept"); err != nil || !strings.Contains(status, "Terminating") {
		t.Fatalf("a claim in use was removed, or does not say Terminating: %q %v", status, err)
	}
	cluster.MustKubectl(t, "-n", n, "delete", "pod", "user")
	gone(t, 30*time.Second, "claim kept", "-n", n, "get", "pvc", "kept")
	framework.Eventually(t, 30*time.Second, func() error {
		if phase, _ := cluster.Kubectl("get", "pv", pv, "-o", "jsonpath={.status.phase}"); phase != "Released" {
			return fmt.Errorf("volume %s phase %q", pv, phase)
		}
		return nil
	})
	if data, err := os.ReadFile(filepath.Join(dir, "note")); err != nil || string(data) != "retained\n" {
		t.Errorf("retained data = %q, %v", data, err)
	}

	desc := cluster.MustKubectl(t, "-n", n, "describe", "pvc", "orphan")
	if !strings.Contains(desc, "ExternalProvisioning") || !strings.Contains(desc, `"example.com/nobody"`) {
		t.Errorf("describe pvc orphan does not say whom it waits for:\n%s", desc)
	}
}

// TestGenericEphemeralVolume: a pod's ephemeral.volumeClaimTemplate becomes the claim
// <pod>-<volume>, owned by the pod and provisioned by local-path on the pod's node;
// the pod writes to it; deleting the pod deletes the claim and its directory. A
// claim of that name the pod does not own is never used: the pod waits.
func TestGenericEphemeralVolume(t *testing.T) {
	n := ns(t, "ephemeral")
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: scratch}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts: [{name: work, mountPath: /work}]
  volumes:
  - name: work
    ephemeral:
      volumeClaimTemplate:
        metadata: {labels: {made-by: template}}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
`)
	running(t, n, "scratch")
	waitClaim(t, n, "scratch-work", "{.status.phase}", "Bound", 10*time.Second)
	owner := cluster.MustKubectl(t, "-n", n, "get", "pvc", "scratch-work", "-o",
		"jsonpath={.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}/{.metadata.labels.made-by}/{.spec.storageClassName}")
	if owner != "Pod/scratch/template/local-path" {
		t.Errorf("claim scratch-work: owner/name/label/class = %q", owner)
	}
	dir := volumeDir(t, n, "scratch-work")
	if _, err := execOut(n, "scratch", "", "sh", "-c", "echo scratch > /work/note"); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "note")); err != nil || string(data) != "scratch\n" {
		t.Errorf("the note on the node = %q, %v", data, err)
	}
	t.Logf("kubectl get pod,pvc\n%s", cluster.MustKubectl(t, "-n", n, "get", "pod,pvc"))

	cluster.MustKubectl(t, "-n", n, "delete", "pod", "scratch")
	gone(t, time.Minute, "claim scratch-work", "-n", n, "get", "pvc", "scratch-work")
	framework.Eventually(t, 30*time.Second, func() error {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			return fmt.Errorf("directory %s still there (%v)", dir, err)
		}
		return nil
	})

	// A claim that merely has the name is someone else's: the pod waits and says so.
	apply(t, n, `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: squatter-work}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: squatter}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: `+toolbox+`
    command: ["/toolbox", "sleep", "infinity"]
    volumeMounts: [{name: work, mountPath: /work}]
  volumes:
  - name: work
    ephemeral:
      volumeClaimTemplate:
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
`)
	framework.Eventually(t, 30*time.Second, func() error {
		desc, _ := cluster.Kubectl("-n", n, "describe", "pod", "squatter")
		if !strings.Contains(desc, "pod is not owner") {
			return fmt.Errorf("describe pod squatter does not say the claim is not its own:\n%s", desc)
		}
		return nil
	})
	if phase := get(t, n, "squatter", "{.status.phase}"); phase == "Running" {
		t.Errorf("pod squatter runs on a claim it does not own")
	}
}

// sizeEnforcement: a local-path volume says whether its size is enforced, as this
// machine's filesystem allows: a project quota (annotation and event) where the
// data dir's filesystem has project quotas turned on, else why not.
func sizeEnforcement(t *testing.T, n, claim, dataDir string) {
	t.Helper()
	pv := cluster.MustKubectl(t, "-n", n, "get", "pvc", claim, "-o", "jsonpath={.spec.volumeName}")
	got := cluster.MustKubectl(t, "get", "pv", pv, "-o", "go-template={{index .metadata.annotations \""+localpath.AnnProjectID+
		"\"}}/{{index .metadata.annotations \""+localpath.AnnSizeNotEnforced+"\"}}")
	why := localpath.ProjectQuotas{}.Unsupported(dataDir)
	if why == "" {
		want := fmt.Sprint(localpath.ProjectID(pv)) + "/<no value>"
		if got != want {
			t.Errorf("pv %s project/not-enforced annotations = %q, want %q", pv, got, want)
		}
		waitEvent(t, n, claim, "ProvisioningSucceeded", "by project quota "+fmt.Sprint(localpath.ProjectID(pv)))
		return
	}
	if got != "<no value>/"+why {
		t.Errorf("pv %s project/not-enforced annotations = %q, want %q", pv, got, "<no value>/"+why)
	}
	waitEvent(t, n, claim, "ProvisioningSucceeded", "its size is recorded, not enforced: "+why)
}
