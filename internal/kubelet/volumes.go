package kubelet

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
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
	})
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
