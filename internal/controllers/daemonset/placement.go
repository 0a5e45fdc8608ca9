package daemonset

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"

	"skiff/internal/controllers/workloads"
)

// Which nodes a daemon belongs on, as pure functions of the node and the template.

// daemonTolerations are added to every daemon pod: a daemon is part of the node, so
// node trouble (not ready, unreachable, pressure, cordoned) must not evict or block it.
func daemonTolerations(hostNetwork bool) []corev1.Toleration {
	t := []corev1.Toleration{
		{Key: corev1.TaintNodeNotReady, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute},
		{Key: corev1.TaintNodeDiskPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeMemoryPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodePIDPressure, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
		{Key: corev1.TaintNodeUnschedulable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule},
	}
	if hostNetwork {
		t = append(t, corev1.Toleration{Key: corev1.TaintNodeNetworkUnavailable, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	}
	return t
}

// withDaemonTolerations adds the daemon tolerations the spec does not already have.
func withDaemonTolerations(spec *corev1.PodSpec) []corev1.Toleration {
	out := append([]corev1.Toleration(nil), spec.Tolerations...)
	for _, d := range daemonTolerations(spec.HostNetwork) {
		found := false
		for _, t := range out {
			if t.Key == d.Key && t.Effect == d.Effect && t.Operator == d.Operator {
				found = true
				break
			}
		}
		if !found {
			out = append(out, d)
		}
	}
	return out
}

// placement says whether a daemon should be started on node, and whether one already
// there may stay (a NoSchedule taint keeps new pods off but does not evict).
func placement(node *corev1.Node, tmpl *corev1.PodTemplateSpec) (run, keep bool) {
	if fits, err := nodeaffinity.NewRequiredNodeAffinity(tmpl.Spec.NodeSelector, tmpl.Spec.Affinity).Match(node); err != nil || !fits {
		return false, false
	}
	tols := withDaemonTolerations(&tmpl.Spec)
	run, keep = true, true
	for i := range node.Spec.Taints {
		taint := &node.Spec.Taints[i]
		if taint.Effect == corev1.TaintEffectPreferNoSchedule || corev1helpers.TolerationsTolerateTaint(klog.Background(), tols, taint, false /* Lt/Gt: alpha, refused by the API */) {
			continue
		}
		run = false
		if taint.Effect == corev1.TaintEffectNoExecute {
			keep = false
		}
	}
	return run, keep
}

// newDaemonPod is the daemon pod for node: pinned there by node affinity on the node's
// name (so the scheduler still checks resources and ports), with the daemon
// tolerations and the revision hash label.
func newDaemonPod(ds *appsv1.DaemonSet, node, hash string) *corev1.Pod {
	pod := workloads.PodFromTemplate(ds.Spec.Template.DeepCopy(), ds, kindDaemonSet)
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = hash
	pod.Spec.Tolerations = withDaemonTolerations(&pod.Spec)
	if pod.Spec.Affinity == nil {
		pod.Spec.Affinity = &corev1.Affinity{}
	}
	if pod.Spec.Affinity.NodeAffinity == nil {
		pod.Spec.Affinity.NodeAffinity = &corev1.NodeAffinity{}
	}
	pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution = &corev1.NodeSelector{
		NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchFields: []corev1.NodeSelectorRequirement{{
			Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}},
	}
	return pod
}

// targetNode is the node a daemon pod is on, or pinned to before scheduling.
func targetNode(pod *corev1.Pod) (string, error) {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName, nil
	}
	a := pod.Spec.Affinity
	if a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
			for _, f := range t.MatchFields {
				if f.Key == "metadata.name" && f.Operator == corev1.NodeSelectorOpIn && len(f.Values) == 1 {
					return f.Values[0], nil
				}
			}
		}
	}
	return "", fmt.Errorf("pod %s has no node", pod.Name)
}
