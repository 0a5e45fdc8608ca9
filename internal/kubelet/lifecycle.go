package kubelet

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// postStartTimeout bounds a postStart hook, which holds up the pod's worker while it
// runs (as the kubelet's does: nothing else of the pod proceeds meanwhile).
const postStartTimeout = 2 * time.Minute

// postStart runs c's postStart hook against the run that just started. A hook that
// fails kills the run, which then restarts as the pod's restart policy says; it
// reports whether the run may go on.
func (w *podWorker) postStart(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string) bool {
	if c.Lifecycle == nil || c.Lifecycle.PostStart == nil {
		return true
	}
	hctx, cancel := context.WithTimeout(ctx, postStartTimeout)
	defer cancel()
	run := &runtimeContainer{ID: id, Name: c.Name, State: runtimeapi.ContainerState_CONTAINER_RUNNING}
	err := w.runHook(hctx, pod, run, c, c.Lifecycle.PostStart)
	if err == nil {
		return true
	}
	w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "FailedPostStartHook", "PostStartHook failed: %v", err)
	w.k.recorder.Eventf(pod, corev1.EventTypeNormal, "Killing", "FailedPostStartHook: stopping container %s", c.Name)
	w.log().Info("postStart hook failed; stopping the container", "container", c.Name, "err", err)
	if err := w.k.runtime.runtime.StopContainer(ctx, id, gracePeriod(pod)); err != nil {
		w.log().Warn("stopping container failed", "container", c.Name, "err", err)
	}
	return false
}

// kubeletMounts adds the files the kubelet itself provides to a container: the
// file its termination message goes to and, unless it mounts its own, /etc/hosts.
func (k *Kubelet) kubeletMounts(pod *corev1.Pod, c *corev1.Container, attempt uint32, mounts []*runtimeapi.Mount) ([]*runtimeapi.Mount, error) {
	hosts, err := k.etcHostsMount(pod, c)
	if err != nil {
		return nil, err
	}
	if hosts != nil {
		mounts = append(mounts, hosts)
	}
	term, err := k.terminationLogMount(pod, c, attempt)
	if err != nil {
		return nil, err
	}
	return append(mounts, term), nil
}
