package kubelet

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func podRequesting(cpu, mem string) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
		Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse(cpu), corev1.ResourceMemory: resource.MustParse(mem)}}}}}}
}

func TestResizeFits(t *testing.T) {
	alloc := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2"), corev1.ResourceMemory: resource.MustParse("4Gi")}
	other := podRequesting("1", "1Gi")
	// A pod being resized down counts at what it still has until the kubelet says otherwise.
	shrinking := podRequesting("100m", "1Gi")
	shrinking.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", AllocatedResources: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1500m")}}}
	tests := []struct {
		name   string
		pod    *corev1.Pod
		others []*corev1.Pod
		want   string
	}{
		{"fits", podRequesting("1", "2Gi"), []*corev1.Pod{other}, ""},
		{"more than the node has", podRequesting("3", "1Gi"), nil, corev1.PodReasonInfeasible},
		{"more than is free", podRequesting("1500m", "1Gi"), []*corev1.Pod{other}, corev1.PodReasonDeferred},
		{"others counted at their allocation", podRequesting("1", "1Gi"), []*corev1.Pod{shrinking}, corev1.PodReasonDeferred},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, msg := resizeFits(tt.pod, tt.others, alloc); got != tt.want {
				t.Errorf("got %q (%s), want %q", got, msg, tt.want)
			}
		})
	}
}

func TestRestartOnResize(t *testing.T) {
	mem := func(s string) corev1.ResourceRequirements {
		return corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse(s)},
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}
	}
	restartMem := []corev1.ContainerResizePolicy{{ResourceName: corev1.ResourceMemory, RestartPolicy: corev1.RestartContainer},
		{ResourceName: corev1.ResourceCPU, RestartPolicy: corev1.NotRequired}}
	tests := []struct {
		name    string
		policy  []corev1.ContainerResizePolicy
		applied corev1.ResourceRequirements
		want    bool
	}{
		{"memory changed, policy restarts", restartMem, mem("64Mi"), true},
		{"memory unchanged", restartMem, mem("128Mi"), false},
		{"cpu changed, memory unchanged", restartMem, corev1.ResourceRequirements{Limits: mem("128Mi").Limits,
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}, false},
		{"memory changed, no restart asked", nil, mem("64Mi"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &corev1.Container{Name: "c", Resources: mem("128Mi"), ResizePolicy: tt.policy}
			if got := restartOnResize(c, cpuMemory(tt.applied)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}
