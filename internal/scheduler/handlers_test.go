package scheduler

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func TestShrankSeesAppliedResizesDown(t *testing.T) {
	bound := func(spec, allocated string) *v1.Pod {
		p := &v1.Pod{Spec: v1.PodSpec{NodeName: "n", Containers: []v1.Container{{Name: "c",
			Resources: v1.ResourceRequirements{Requests: v1.ResourceList{v1.ResourceCPU: resource.MustParse(spec)}}}}}}
		if allocated != "" {
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "c", AllocatedResources: v1.ResourceList{v1.ResourceCPU: resource.MustParse(allocated)}}}
		}
		return p
	}
	tests := []struct {
		name     string
		old, pod *v1.Pod
		want     bool
	}{
		{"a resize down asked for holds the node", bound("1", "1"), bound("200m", "1"), false},
		{"the kubelet applied it", bound("200m", "1"), bound("200m", "200m"), true},
		{"a resize up", bound("200m", "200m"), bound("1", "200m"), false},
		{"a status update", bound("1", ""), bound("1", "1"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := shrank(tt.old, tt.pod); got != tt.want {
				t.Errorf("shrank = %v, want %v", got, tt.want)
			}
		})
	}
}
