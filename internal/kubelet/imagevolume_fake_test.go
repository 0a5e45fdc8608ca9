package kubelet

import (
	"context"
	"errors"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// fakeViews stands for imageview: it records which image is shown where.
type fakeViews struct {
	mounted map[string]string // target -> image
	removed []types.UID
}

func (f *fakeViews) Mount(_ context.Context, _ types.UID, _, image, target string) error {
	f.mounted[target] = image
	return nil
}

func (f *fakeViews) Unmount(_ context.Context, uid types.UID) error {
	f.removed = append(f.removed, uid)
	return nil
}

// recordingRuntime keeps the configs containers are created with (the fake runtime
// forgets their mounts).
type recordingRuntime struct {
	internalapi.RuntimeService
	configs map[string]*runtimeapi.ContainerConfig
}

func (r *recordingRuntime) CreateContainer(ctx context.Context, sb string, cfg *runtimeapi.ContainerConfig, sbCfg *runtimeapi.PodSandboxConfig) (string, error) {
	r.configs[cfg.Metadata.Name] = cfg
	return r.RuntimeService.CreateContainer(ctx, sb, cfg, sbCfg)
}

const volumeImage = "skiff.local/data:1"

func imageVolumePod(policy corev1.PullPolicy) *corev1.Pod {
	pod := simplePod("iv")
	pod.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		Image: &corev1.ImageVolumeSource{Reference: volumeImage, PullPolicy: policy}}}}
	pod.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/volume"}}
	return pod
}

// TestFakeRuntimeImageVolume: the volume's image is pulled under its own pull policy,
// with the events and waiting reasons of a container image, then mounted read-only.
func TestFakeRuntimeImageVolume(t *testing.T) {
	for _, tt := range []struct {
		name        string
		present     bool
		policy      corev1.PullPolicy
		pullErr     error
		wantPulls   int
		wantReason  string // the container's waiting reason; "" for running
		wantMessage string
		wantEvent   string
	}{
		{name: "Always pulls though present", present: true, policy: corev1.PullAlways, wantPulls: 1, wantEvent: `Pulling image "skiff.local/data:1"`},
		{name: "IfNotPresent uses the present image", present: true, policy: corev1.PullIfNotPresent, wantEvent: "already present on machine"},
		{name: "IfNotPresent pulls a missing image", policy: corev1.PullIfNotPresent, wantPulls: 1, wantEvent: "Successfully pulled image"},
		{name: "a tagged image defaults to IfNotPresent", present: true, wantEvent: "already present on machine"},
		{name: "Never with the image missing", policy: corev1.PullNever, wantReason: "ErrImageNeverPull",
			wantMessage: `Container image "skiff.local/data:1" is not present with pull policy of Never`, wantEvent: "ErrImageNeverPull"},
		{name: "a failed pull", policy: corev1.PullAlways, pullErr: errors.New(`image "skiff.local/data:1" is not in the cluster registry`), wantPulls: 1,
			wantReason: "ErrImagePull", wantMessage: `Failed to pull image "skiff.local/data:1": image "skiff.local/data:1" is not in the cluster registry`, wantEvent: "Error: ErrImagePull"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNode(t)
			rec := &recordingRuntime{RuntimeService: n.k.runtime.runtime, configs: map[string]*runtimeapi.ContainerConfig{}}
			n.k.runtime.runtime = rec
			images := []string{"skiff.local/pause:1"}
			if tt.present {
				images = append(images, volumeImage)
			}
			n.images.SetFakeImages(images)
			if tt.pullErr != nil {
				n.images.InjectError("PullImage", tt.pullErr)
			}
			n.add(imageVolumePod(tt.policy))
			n.sync("iv")
			if !n.sawEvent(tt.wantEvent) {
				t.Errorf("no event with %q", tt.wantEvent)
			}
			pulls := 0
			for _, c := range n.images.Called {
				if c == "PullImage" {
					pulls++
				}
			}
			if pulls != tt.wantPulls {
				t.Errorf("%d pulls; want %d", pulls, tt.wantPulls)
			}
			cs := containerStatus(n.get("iv"), "app")
			if tt.wantReason != "" {
				if cs.State.Waiting == nil || cs.State.Waiting.Reason != tt.wantReason || cs.State.Waiting.Message != tt.wantMessage {
					t.Fatalf("container state %+v; want waiting %s: %s", cs.State, tt.wantReason, tt.wantMessage)
				}
				if len(n.views.mounted) != 0 || rec.configs["app"] != nil {
					t.Fatalf("mounted %v and created %v with the image missing", n.views.mounted, rec.configs)
				}
				return
			}
			if cs.State.Running == nil {
				t.Fatalf("container state %+v; want running", cs.State)
			}
			var mount *runtimeapi.Mount
			for _, m := range rec.configs["app"].GetMounts() {
				if m.ContainerPath == "/volume" {
					mount = m
				}
			}
			if mount == nil || !mount.Readonly || n.views.mounted[mount.HostPath] != volumeImage {
				t.Fatalf("container mount %v, views %v; want %s read-only at /volume", mount, n.views.mounted, volumeImage)
			}
		})
	}
}

// TestFakeRuntimeImageVolumeBackoffAndCleanup: a failing pull backs off as
// ImagePullBackOff, and the pod's views go when it is deleted.
func TestFakeRuntimeImageVolumeBackoffAndCleanup(t *testing.T) {
	n := newFakeNode(t)
	n.images.SetFakeImages([]string{"skiff.local/pause:1"})
	n.images.InjectError("PullImage", errors.New("not in the registry"))
	n.add(imageVolumePod(corev1.PullIfNotPresent))
	n.sync("iv")
	n.sync("iv")
	cs := containerStatus(n.get("iv"), "app")
	want := `Back-off pulling image "skiff.local/data:1": not in the registry`
	if cs.State.Waiting == nil || cs.State.Waiting.Reason != "ImagePullBackOff" || cs.State.Waiting.Message != want {
		t.Fatalf("after a second try: %+v; want ImagePullBackOff: %s", cs.State, want)
	}
	if err := n.client.CoreV1().Pods("default").Delete(context.Background(), "iv", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// The fake cgroup tree holds regular files, which rmdir refuses (cgroupfs
	// holds virtual ones): empty it as the kernel would let the worker.
	if err := os.RemoveAll(n.k.cgroups.root); err != nil {
		t.Fatal(err)
	}
	n.sync("iv")
	if len(n.views.removed) != 1 || n.views.removed[0] != "uid-iv" {
		t.Fatalf("views removed for %v; want the deleted pod's", n.views.removed)
	}
}
