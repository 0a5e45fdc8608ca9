package kubelet

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/volume"
)

// newVolumeManager wires the volume manager to this kubelet: a changed ConfigMap or
// Secret wakes the workers of the pods that project it.
func (k *Kubelet) newVolumeManager(ctx context.Context) *volume.Manager {
	return volume.New(ctx, volume.Config{
		Root: k.cfg.RootDir, Client: k.client, Recorder: k.recorder,
		Wake:     func(uid types.UID, ns, name string) { k.wake(ctx, uid, ns, name) },
		Resource: k.volumeResource,
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

// serviceEnv is what every container learns about the cluster's API server, from
// the default/kubernetes Service, so that client-go's in-cluster config finds it.
// Kubernetes sets these even when enableServiceLinks is false.
func (k *Kubelet) serviceEnv(ctx context.Context) []envVar {
	svc, err := k.client.CoreV1().Services(corev1.NamespaceDefault).Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP == "" || svc.Spec.ClusterIP == corev1.ClusterIPNone {
		return nil
	}
	return kubernetesServiceEnv(svc)
}

// kubernetesServiceEnv spells a Service's address in the docker-links style names
// Kubernetes uses for the kubernetes Service.
func kubernetesServiceEnv(svc *corev1.Service) []envVar {
	if len(svc.Spec.Ports) == 0 {
		return nil
	}
	ip := svc.Spec.ClusterIP
	p := svc.Spec.Ports[0]
	port := strconv.Itoa(int(p.Port))
	proto := string(p.Protocol)
	if proto == "" {
		proto = "TCP"
	}
	out := []envVar{{"KUBERNETES_SERVICE_HOST", ip}, {"KUBERNETES_SERVICE_PORT", port}}
	for _, sp := range svc.Spec.Ports {
		if sp.Name != "" {
			out = append(out, envVar{"KUBERNETES_SERVICE_PORT_" + envName(sp.Name), strconv.Itoa(int(sp.Port))})
		}
	}
	lower := map[string]string{"TCP": "tcp", "UDP": "udp", "SCTP": "sctp"}[proto]
	prefix := "KUBERNETES_PORT_" + port + "_" + proto
	return append(out,
		envVar{"KUBERNETES_PORT", lower + "://" + ip + ":" + port},
		envVar{prefix, lower + "://" + ip + ":" + port},
		envVar{prefix + "_PROTO", lower},
		envVar{prefix + "_PORT", port},
		envVar{prefix + "_ADDR", ip},
	)
}

func envName(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c == '-':
			b[i] = '_'
		}
	}
	return string(b)
}

// withServiceEnv puts the service variables first; the container's own win.
func withServiceEnv(svc, own []envVar) []envVar {
	set := map[string]bool{}
	for _, e := range own {
		set[e.Name] = true
	}
	out := make([]envVar, 0, len(svc)+len(own))
	for _, e := range svc {
		if !set[e.Name] {
			out = append(out, e)
		}
	}
	return append(out, own...)
}
