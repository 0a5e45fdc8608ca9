package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestSetup prepares a pod's volumes against a fake API: files land under the pod's
// directory, failures stay per volume, tokens are requested once while fresh, and
// Teardown removes everything.
func TestSetup(t *testing.T) {
	root := t.TempDir()
	// Secret and projected volumes are tmpfs mounts; a failing test must not leave them.
	t.Cleanup(func() { _ = UnmountUnder(root, 0) })
	client := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: "ns"}, Data: map[string]string{"ca.crt": "CA"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "bound", Namespace: "ns", UID: "c1"}, Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv1"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "ns"}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{
			ClaimRef:               &corev1.ObjectReference{Namespace: "ns", Name: "bound", UID: "c1"},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(root, "pv")}}}},
	)
	tokens := 0
	client.PrependReactor("create", "serviceaccounts", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tokens++
		req := a.(k8stesting.CreateAction).GetObject().(*authenticationv1.TokenRequest)
		if req.Spec.BoundObjectRef == nil || req.Spec.BoundObjectRef.Name != "web" {
			t.Errorf("token request not bound to the pod: %+v", req.Spec.BoundObjectRef)
		}
		exp := time.Now().Add(time.Duration(*req.Spec.ExpirationSeconds) * time.Second)
		return true, &authenticationv1.TokenRequest{Status: authenticationv1.TokenRequestStatus{Token: "a.b.c", ExpirationTimestamp: metav1.NewTime(exp)}}, nil
	})
	if err := os.MkdirAll(filepath.Join(root, "pv"), 0o755); err != nil {
		t.Fatal(err)
	}
	m := New(context.Background(), Config{Root: root, Client: client})
	exp := int64(3607)
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1"}, Spec: corev1.PodSpec{
		ServiceAccountName: "default",
		Volumes: []corev1.Volume{
			{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			{Name: "sa", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &exp}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"}}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
			}}}},
			{Name: "absent", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "nope"}}},
			{Name: "claim", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "bound"}}},
			{Name: "unbound", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "pending"}}},
		},
	}}
	vols := m.Setup(context.Background(), pod)
	saDir := Dir(root, "u1", PluginProjected, "sa")
	for file, want := range map[string]string{"token": "a.b.c", "ca.crt": "CA", "namespace": "ns"} {
		if data, err := os.ReadFile(filepath.Join(saDir, file)); err != nil || string(data) != want {
			t.Errorf("%s = %q, %v; want %q", file, data, err, want)
		}
	}
	if got := vols.volumes["claim"].path; got != filepath.Join(root, "pv") {
		t.Errorf("claim path = %s", got)
	}
	for name, want := range map[string]string{"absent": `secret "nope" not found`, "unbound": `"pending" is not bound`} {
		if err := vols.errs[name]; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("volume %s: err = %v, want %q", name, err, want)
		}
	}
	if info, err := os.Stat(Dir(root, "u1", PluginEmptyDir, "scratch")); err != nil || info.Mode().Perm() != 0o777 {
		t.Errorf("emptyDir: %v %v", info, err)
	}
	if mounted, err := isMountPoint(saDir); err != nil || !mounted {
		t.Errorf("the projected volume is not a tmpfs: %v %v", mounted, err)
	}
	m.Setup(context.Background(), pod)
	if tokens != 1 {
		t.Errorf("%d token requests for a fresh token, want 1", tokens)
	}
	if err := m.Teardown("u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(PodDir(root, "u1")); !os.IsNotExist(err) {
		t.Errorf("pod dir still there after Teardown: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "pv")); err != nil {
		t.Errorf("Teardown touched the claim's volume: %v", err)
	}
}

// TestObjectChangeWakesProjectingPods: a changed ConfigMap wakes the pods that
// project it, in its namespace only.
func TestObjectChangeWakesProjectingPods(t *testing.T) {
	var woken []string
	m := New(context.Background(), Config{Root: t.TempDir(), Client: fake.NewClientset(),
		Wake: func(uid types.UID, ns, name string) { woken = append(woken, ns+"/"+name) }})
	m.refs["u1"] = podRefs{ns: "a", name: "web", objects: map[string]bool{"configmap/cfg": true}}
	m.refs["u2"] = podRefs{ns: "b", name: "web", objects: map[string]bool{"configmap/cfg": true}}
	m.refs["u3"] = podRefs{ns: "a", name: "db", objects: map[string]bool{"secret/cfg": true}}
	m.objectChanged("configmap", "a", "cfg")
	if len(woken) != 1 || woken[0] != "a/web" {
		t.Errorf("woken = %v, want [a/web]", woken)
	}
}
