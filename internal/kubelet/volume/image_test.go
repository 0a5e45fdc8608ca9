package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

// fakeImages "mounts" an image by writing a file that names it into the target, as
// the files of the image would appear there.
type fakeImages struct {
	mounted map[string]string // target -> image
	removed []types.UID
}

func (f *fakeImages) Mount(_ context.Context, _ types.UID, _, image, target string) error {
	if err := os.MkdirAll(filepath.Join(target, "etc"), 0o755); err != nil {
		return err
	}
	f.mounted[target] = image
	return os.WriteFile(filepath.Join(target, "etc", "os-release"), []byte(image), 0o644)
}

func (f *fakeImages) Unmount(_ context.Context, uid types.UID) error {
	f.removed = append(f.removed, uid)
	return nil
}

// TestImageVolumeMounts follows an image volume through the manager: pending until
// the worker mounts the pulled image, then read-only in every container that mounts
// it, with subPaths that must exist in the image, and gone with the pod.
func TestImageVolumeMounts(t *testing.T) {
	root := t.TempDir()
	images := &fakeImages{mounted: map[string]string{}}
	m := New(context.Background(), Config{Root: root, Client: fake.NewClientset(), Images: images})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default", UID: "uid-1"},
		Spec: corev1.PodSpec{Volumes: []corev1.Volume{
			{Name: "img", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "skiff.local/data:1"}}},
			{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		}}}
	c := &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{
		{Name: "img", MountPath: "/volume"},
		{Name: "img", MountPath: "/etc-from-image", SubPath: "etc"},
		{Name: "scratch", MountPath: "/scratch"},
	}}
	other := &corev1.Container{Name: "other", VolumeMounts: []corev1.VolumeMount{{Name: "scratch", MountPath: "/scratch"}}}

	p := m.Setup(context.Background(), pod)
	if got := p.PendingImages(c); len(got) != 1 || got[0] != "img" {
		t.Fatalf("PendingImages(c) = %v, want [img]", got)
	}
	if got := p.PendingImages(other); len(got) != 0 {
		t.Fatalf("PendingImages(other) = %v, want none", got)
	}
	if err := m.MountImage(context.Background(), pod, p, "img", "sha256:abc"); err != nil {
		t.Fatal(err)
	}
	target := Dir(root, pod.UID, PluginImage, "img")
	if images.mounted[target] != "sha256:abc" {
		t.Fatalf("mounted %v, want sha256:abc at %s", images.mounted, target)
	}

	// A later sync finds the volume mounted without pulling again.
	for _, p := range []*Pod{p, m.Setup(context.Background(), pod)} {
		if got := p.PendingImages(c); len(got) != 0 {
			t.Fatalf("PendingImages after mounting = %v", got)
		}
		got, err := p.Mounts(c, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			host string
			ro   bool
		}{{target, true}, {filepath.Join(target, "etc"), true}, {Dir(root, pod.UID, PluginEmptyDir, "scratch"), false}}
		for i, w := range want {
			if got[i].HostPath != w.host || got[i].Readonly != w.ro {
				t.Errorf("mount %d = %s ro=%v, want %s ro=%v", i, got[i].HostPath, got[i].Readonly, w.host, w.ro)
			}
		}
	}

	// A subPath the image lacks is an error naming the image, and nothing is created.
	missing := &corev1.Container{Name: "m", VolumeMounts: []corev1.VolumeMount{{Name: "img", MountPath: "/x", SubPath: "no/such"}}}
	if _, err := p.Mounts(missing, nil); err == nil || !strings.Contains(err.Error(), `"no/such": it does not exist in image sha256:abc`) {
		t.Fatalf("Mounts with a missing subPath: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, "no")); !os.IsNotExist(err) {
		t.Fatalf("a missing subPath was created in the image volume: %v", err)
	}

	if err := m.Teardown(pod.UID); err != nil {
		t.Fatal(err)
	}
	if len(images.removed) != 1 || images.removed[0] != pod.UID {
		t.Fatalf("views removed for %v, want [%s]", images.removed, pod.UID)
	}
	if got := m.Setup(context.Background(), pod).PendingImages(c); len(got) != 1 {
		t.Fatalf("after teardown PendingImages = %v, want the volume pending again", got)
	}
}

// TestImageVolumeWithoutRuntimeSupport: a node whose runtime cannot mount images says
// so instead of mounting nothing.
func TestImageVolumeWithoutRuntimeSupport(t *testing.T) {
	m := New(context.Background(), Config{Root: t.TempDir(), Client: fake.NewClientset()})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{UID: "u"}, Spec: corev1.PodSpec{Volumes: []corev1.Volume{
		{Name: "img", VolumeSource: corev1.VolumeSource{Image: &corev1.ImageVolumeSource{Reference: "r"}}}}}}
	p := m.Setup(context.Background(), pod)
	if err := m.MountImage(context.Background(), pod, p, "img", "r"); err == nil || !strings.Contains(err.Error(), "not supported by this node's container runtime") {
		t.Fatalf("MountImage = %v", err)
	}
}
