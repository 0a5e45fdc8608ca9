package csi

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
	"k8s.io/utils/ptr"
)

// TestPublicationsSurviveRestart: an agent that restarts (a new Node on the same
// kubelet directory) knows what the last one published: the running pod's next
// sync publishes nothing again, and the pod's teardown unpublishes and unstages
// through the driver and removes the record. A record whose target is no longer
// mounted (the node rebooted) is forgotten.
func TestPublicationsSurviveRestart(t *testing.T) {
	mounted := true
	isMounted = func(string) bool { return mounted }
	t.Cleanup(func() { isMounted = isMountPoint })
	root := t.TempDir()
	f := &fakeDriver{endpoint: filepath.Join(root, "d.sock")}
	serve(t, f.endpoint, func(s *grpc.Server) {
		csi.RegisterIdentityServer(s, f)
		csi.RegisterNodeServer(s, f)
	})
	dir := RegistrationDir(root)
	if err := mkdir(dir); err != nil {
		t.Fatal(err)
	}
	serve(t, filepath.Join(dir, "fake.csi-reg.sock"), func(s *grpc.Server) { registerapi.RegisterRegistrationServer(s, f) })
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}},
		&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "fake.csi"}, Spec: storagev1.CSIDriverSpec{AttachRequired: ptr.To(false)}})
	ctx := context.Background()
	start := func() *Node {
		n := NewNode(root, "n1", client)
		n.scan(ctx, dir)
		return n
	}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "fake.csi", VolumeHandle: "vol1"}}}}
	pod := func(uid string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: uid, UID: types.UID(uid)}}
	}
	target := func(uid string) string {
		return filepath.Join(root, "pods", uid, "volumes", "kubernetes.io~csi", "data", "mount")
	}
	first := start()
	for _, uid := range []string{"a", "b"} {
		if err := first.PublishVolume(ctx, pod(uid), "data", pv, false, target(uid)); err != nil {
			t.Fatal(err)
		}
	}

	second := start() // the agent restarted; both pods still run
	if err := second.PublishVolume(ctx, pod("a"), "data", pv, false, target("a")); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []string{"a", "b"} {
		if err := second.Unpublish(ctx, types.UID(uid)); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(recordPath(target(uid))); !os.IsNotExist(err) {
			t.Errorf("record of pod %s left after its teardown: %v", uid, err)
		}
	}
	want := []string{"stage vol1", "publish vol1 pod= ephemeral=", "stage vol1", "publish vol1 pod= ephemeral=",
		"unpublish vol1", "unpublish vol1", "unstage vol1"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", f.calls, want)
	}

	if err := second.PublishVolume(ctx, pod("c"), "data", pv, false, target("c")); err != nil {
		t.Fatal(err)
	}
	mounted = false // the node rebooted: nothing is mounted any more
	if third := start(); len(third.published) != 0 {
		t.Errorf("publications restored after a reboot: %v", third.published)
	}
	if _, err := os.Stat(recordPath(target("c"))); !os.IsNotExist(err) {
		t.Errorf("a stale record is kept: %v", err)
	}
}
