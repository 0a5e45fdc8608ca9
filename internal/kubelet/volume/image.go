package volume

import (
	"context"
	"errors"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// errImageNotMounted marks an image volume whose image the pod worker has not pulled
// and mounted yet: it does so when a container that mounts it is about to start, so
// the pull policy and its events belong to that container, as in Kubernetes.
var errImageNotMounted = errors.New("the image is not pulled and mounted yet")

// imageVolume is an image volume mounted earlier in the pod's life.
func (m *Manager) imageVolume(uid types.UID, name string) (prepared, error) {
	m.mu.Lock()
	image, ok := m.images[string(uid)+"/"+name]
	m.mu.Unlock()
	if !ok {
		return prepared{}, errImageNotMounted
	}
	return prepared{path: Dir(m.cfg.Root, uid, PluginImage, name), readOnly: true, image: image}, nil
}

// PendingImages names the image volumes c mounts that are not mounted yet.
func (p *Pod) PendingImages(c *corev1.Container) []string {
	var out []string
	for _, vm := range c.VolumeMounts {
		if errors.Is(p.errs[vm.Name], errImageNotMounted) && !slices.Contains(out, vm.Name) {
			out = append(out, vm.Name)
		}
	}
	return out
}

// MountImage mounts image (pulled by the pod worker; its reference or ID) as the
// image volume name of pod, and adds it to p. The volume keeps that image for the
// pod's life: a pod sees new content of the reference when it is recreated.
func (m *Manager) MountImage(ctx context.Context, pod *corev1.Pod, p *Pod, name, image string) error {
	if m.cfg.Images == nil {
		return errors.New("image volumes are not supported by this node's container runtime")
	}
	target := Dir(m.cfg.Root, pod.UID, PluginImage, name)
	if err := m.cfg.Images.Mount(ctx, pod.UID, name, image, target); err != nil {
		return err
	}
	m.mu.Lock()
	m.images[string(pod.UID)+"/"+name] = image
	m.mu.Unlock()
	p.volumes[name] = prepared{path: target, readOnly: true, image: image}
	delete(p.errs, name)
	return nil
}
