package kubelet

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/volume"
)

// newVolumeManager wires the volume manager to this kubelet: a changed ConfigMap or
// Secret wakes the workers of the pods that project it.
func (k *Kubelet) newVolumeManager(ctx context.Context) *volume.Manager {
	return volume.New(ctx, volume.Config{
		Root: k.cfg.RootDir, NodeName: k.cfg.NodeName, Client: k.client, Recorder: k.recorder,
		Wake:     func(uid types.UID, ns, name string) { k.wake(ctx, uid, ns, name) },
		Resource: k.volumeResource,
		CSI:      k.cfg.CSI,
		Images:   k.imageViews,
	})
}

// ensureImageVolumes pulls and mounts the image volumes c mounts that are not
// mounted yet, each image under its volume's pull policy. A failed pull keeps c
// waiting as a failed pull of its own image would (ErrImagePull, ImagePullBackOff),
// with the volume's image in the message.
func (w *podWorker) ensureImageVolumes(ctx context.Context, pod *corev1.Pod, c *corev1.Container) (time.Duration, bool) {
	if w.vols == nil {
		return 0, true
	}
	for _, name := range w.vols.PendingImages(c) {
		src := imageVolumeSource(pod, name)
		if src == nil {
			continue
		}
		ref, retry, wt := w.pullImage(ctx, pod, "volume/"+name, src.Reference, src.PullPolicy)
		if wt != nil {
			w.waiting[c.Name] = *wt
			return retry, false
		}
		if err := w.k.volumes.MountImage(ctx, pod, w.vols, name, ref); err != nil {
			return w.startFailed(pod, c, "CreateContainerError", fmt.Errorf("mounting image volume %q (image %s): %w", name, src.Reference, err)), false
		}
	}
	return 0, true
}

func imageVolumeSource(pod *corev1.Pod, name string) *corev1.ImageVolumeSource {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return pod.Spec.Volumes[i].Image
		}
	}
	return nil
}

// volumeResource resolves a downwardAPI volume's resourceFieldRef.
func (k *Kubelet) volumeResource(pod *corev1.Pod, container string, ref *corev1.ResourceFieldSelector) (string, error) {
	c := findContainer(pod, container)
	if c == nil {
		return "", fmt.Errorf("resourceFieldRef: no container %q", container)
	}
	return resourceField(pod, c, ref, k.machine.capacity())
}

// mounts returns c's CRI mounts from the volumes prepared in this sync; a volume
// that could not be prepared keeps the container waiting with
// CreateContainerConfigError.
func (w *podWorker) mounts(c *corev1.Container, lookup func(string) (string, bool)) ([]*runtimeapi.Mount, error) {
	if w.vols == nil {
		return nil, nil
	}
	m, err := w.vols.Mounts(c, func(s string) string { return expand(s, lookup) })
	if err != nil {
		return nil, configErrorf("%v", err)
	}
	return m, nil
}

// sweepImageViews removes the image-volume views of pods that left the node while
// the agent was down. A pod the API or the runtime still knows keeps its views: its
// worker tears them down. The API is asked at each view, so that a view mounted for
// a pod that arrived after the sweep began stays.
func (k *Kubelet) sweepImageViews(ctx context.Context) {
	inRuntime, _, err := k.relist(ctx)
	if err != nil {
		slog.Warn("not sweeping image volumes: relisting the runtime failed", "err", err)
		return
	}
	known := func(uid types.UID) bool {
		if _, ok := inRuntime[string(uid)]; ok {
			return true
		}
		pods, _ := k.podLister.List(labels.Everything())
		return slices.ContainsFunc(pods, func(p *corev1.Pod) bool { return p.UID == uid })
	}
	if err := k.imageViews.Sweep(ctx, known); err != nil && ctx.Err() == nil {
		slog.Warn("removing image volumes of pods gone from the node failed", "err", err)
	}
}
