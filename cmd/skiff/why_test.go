package main

import (
	"bytes"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestExplainContainersOnATroubledNode: on a NotReady (or vanished) node, the
// container statuses are stale, and `skiff why` must not call them current.
func TestExplainContainersOnATroubledNode(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{NodeName: "n1"},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}}}}
	node := func(status corev1.ConditionStatus) *corev1.Node {
		return &corev1.Node{Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status,
			Reason: "NodeStatusUnknown", Message: "Kubelet stopped posting node status."}}}}
	}
	tests := []struct {
		name        string
		node        *corev1.Node
		want, never string
	}{
		{"ready node", node(corev1.ConditionTrue), "container app is running and ready", "last reported"},
		{"not ready", node(corev1.ConditionUnknown), "node n1 is NotReady since", "is running and ready"},
		{"gone", nil, "node n1 is gone", "is running and ready"},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		explainContainers(&b, pod, nodeTrouble(tt.node))
		if out := b.String(); !strings.Contains(out, tt.want) || strings.Contains(out, tt.never) {
			t.Errorf("%s: output lacks %q or has %q:\n%s", tt.name, tt.want, tt.never, out)
		}
	}
}
