package kubelet

import (
	"context"
	"fmt"
	"io/fs"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/stream"
)

// The kubelet is the stream package's Runtime: it finds the container and asks the
// runtime for a streaming session.
var _ stream.Runtime = (*Kubelet)(nil)

// streamPod finds a pod on this node for a streaming request.
func (k *Kubelet) streamPod(ns, name string) (*corev1.Pod, error) {
	pod, err := k.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("pod %s/%s is not on node %s: %w", ns, name, k.cfg.NodeName, fs.ErrNotExist)
	}
	return pod, err
}

// runningContainer is the ID of the running container name of pod ns/podName.
func (k *Kubelet) runningContainer(ctx context.Context, ns, podName, name string) (string, error) {
	pod, err := k.streamPod(ns, podName)
	if err != nil {
		return "", err
	}
	rt, err := fetchPodRuntime(ctx, k.rt, k.cfg.NodeName, pod.UID)
	if err != nil {
		return "", err
	}
	cur, _ := rt.latest(name)
	if cur == nil {
		return "", fmt.Errorf("container %q not found in pod %q: %w", name, podName, fs.ErrNotExist)
	}
	if !cur.running() {
		return "", fmt.Errorf("container %s is not running in pod %s", name, podName)
	}
	return cur.ID, nil
}

// Exec prepares `kubectl exec` in a running container and returns the runtime's URL.
func (k *Kubelet) Exec(ctx context.Context, ns, pod, container string, cmd []string, o stream.Options) (string, error) {
	id, err := k.runningContainer(ctx, ns, pod, container)
	if err != nil {
		return "", err
	}
	r, err := k.rt.Runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: id, Cmd: cmd,
		Tty: o.TTY, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr})
	if err != nil {
		return "", err
	}
	return r.Url, nil
}

// Attach prepares `kubectl attach` to a running container's main process.
func (k *Kubelet) Attach(ctx context.Context, ns, pod, container string, o stream.Options) (string, error) {
	id, err := k.runningContainer(ctx, ns, pod, container)
	if err != nil {
		return "", err
	}
	r, err := k.rt.Runtime.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: id,
		Tty: o.TTY, Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr})
	if err != nil {
		return "", err
	}
	return r.Url, nil
}

// PodAddress is where port-forward connects: the pod's IP, or loopback for a pod on
// the host's network.
func (k *Kubelet) PodAddress(ctx context.Context, ns, name string) (string, error) {
	pod, err := k.streamPod(ns, name)
	if err != nil {
		return "", err
	}
	if pod.Spec.HostNetwork {
		return "127.0.0.1", nil
	}
	rt, err := fetchPodRuntime(ctx, k.rt, k.cfg.NodeName, pod.UID)
	if err != nil {
		return "", err
	}
	if sb := rt.sandbox(); sb != nil && sb.Ready && len(sb.IPs) > 0 {
		return sb.IPs[0], nil
	}
	return "", fmt.Errorf("pod %s/%s has no running sandbox", ns, name)
}
