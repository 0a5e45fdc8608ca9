package kubelet

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	fw "skiff/internal/scheduler/framework"
	"skiff/internal/scheduler/plugins"
)

// Admission: before anything of a pod runs, the kubelet checks what the scheduler
// cannot be trusted to have checked (a pod may name its node itself, skipping the
// scheduler): host ports free on this node, and only safe sysctls. A pod refused here
// fails with the reason, and its controller replaces it.

const (
	reasonNodePorts  = "NodePorts"
	messageNodePorts = "Pod was rejected: Predicate NodePorts failed: " + plugins.ReasonNodePorts
)

// admissionFailure is why pod may not run on this node, or "" if it may.
func (k *Kubelet) admissionFailure(pod *corev1.Pod) (reason, message string) {
	if msg := forbiddenSysctls(pod); msg != "" {
		return "SysctlForbidden", msg
	}
	if k.hostPortsTaken(pod) {
		return reasonNodePorts, messageNodePorts
	}
	return "", ""
}

// hostPortsTaken reports whether a pod admitted before this one (created earlier,
// or already started) holds one of its host ports, with the scheduler's own rule.
func (k *Kubelet) hostPortsTaken(pod *corev1.Pod) bool {
	pi := fw.NewPodInfo(pod)
	if len(pi.HostPorts) == 0 {
		return false
	}
	others, err := k.podLister.List(labels.Everything())
	if err != nil {
		return false
	}
	node := fw.NewNodeInfo(nil)
	for _, o := range others {
		if o.UID != pod.UID && o.Spec.NodeName == pod.Spec.NodeName && !isTerminal(o) && admittedBefore(o, pod) {
			node.AddPod(fw.NewPodInfo(o))
		}
	}
	return !plugins.NodePorts{}.Filter(nil, pi, node).IsSuccess()
}

// admittedBefore orders admission as the kubelet does, oldest first; a pod that has
// started was admitted whatever its age.
func admittedBefore(o, pod *corev1.Pod) bool {
	if len(o.Status.ContainerStatuses) > 0 || o.Status.Phase == corev1.PodRunning {
		return true
	}
	if !o.CreationTimestamp.Equal(&pod.CreationTimestamp) {
		return o.CreationTimestamp.Before(&pod.CreationTimestamp)
	}
	return o.Name < pod.Name
}

// refuse fails a pod that admission turns away; it reports whether it did.
func (w *podWorker) refuse(ctx context.Context, pod *corev1.Pod, rt *podRuntime) bool {
	reason, msg := w.k.admissionFailure(pod)
	if reason == "" {
		return false
	}
	w.failPod(ctx, pod, rt, reason, msg)
	return true
}
