package resources

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// burstablePod is a stored Burstable pod with a sidecar and a plain init container.
func burstablePod(t *testing.T) *corev1.Pod {
	t.Helper()
	pod := mustYAML[corev1.Pod](t, `
metadata: {name: web, namespace: default, uid: u1, resourceVersion: "5"}
spec:
  containers:
  - {name: app, image: "nginx:1.25", resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 128Mi}}}
  initContainers:
  - {name: init, image: busybox, resources: {requests: {cpu: 50m}}}
  - {name: log, image: busybox, restartPolicy: Always, resources: {requests: {cpu: 50m}}}
`)
	if errs := create(podStrategy{}, pod); len(errs) > 0 {
		t.Fatal(errs)
	}
	return pod
}

func TestPodResize(t *testing.T) {
	q := resource.MustParse
	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"memory limit up", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits["memory"] = q("256Mi") }, []string{}},
		{"cpu request and a new cpu limit", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests["cpu"] = q("200m")
			p.Spec.Containers[0].Resources.Limits["cpu"] = q("1")
		}, []string{}},
		{"sidecar cpu", func(p *corev1.Pod) { p.Spec.InitContainers[1].Resources.Requests["cpu"] = q("75m") }, []string{}},
		{"resize policy", func(p *corev1.Pod) {
			p.Spec.Containers[0].ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: "memory", RestartPolicy: corev1.RestartContainer}}
		}, []string{}},
		{"plain init container", func(p *corev1.Pod) { p.Spec.InitContainers[0].Resources.Requests["cpu"] = q("75m") },
			[]string{"spec: FieldValueForbidden"}},
		{"request removed", func(p *corev1.Pod) { delete(p.Spec.Containers[0].Resources.Requests, "cpu") },
			[]string{"spec.containers[0].resources.requests: FieldValueForbidden"}},
		{"limit removed", func(p *corev1.Pod) { delete(p.Spec.Containers[0].Resources.Limits, "memory") },
			[]string{"spec.containers[0].resources.limits: FieldValueForbidden"}},
		{"other resource", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests["ephemeral-storage"] = q("1Gi") },
			[]string{"spec.containers[0].resources.requests[ephemeral-storage]: FieldValueForbidden"}},
		{"renamed container", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "other" },
			[]string{"spec.containers[0].name: FieldValueForbidden"}},
		{"bad resize policy", func(p *corev1.Pod) {
			p.Spec.Containers[0].ResizePolicy = []corev1.ContainerResizePolicy{{ResourceName: "gpu", RestartPolicy: "Sometimes"}}
		}, []string{"spec.containers[0].resizePolicy[0].resourceName: FieldValueNotSupported", "spec.containers[0].resizePolicy[0].restartPolicy: FieldValueNotSupported"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := burstablePod(t)
			pod := old.DeepCopy()
			tt.mutate(pod)
			pod.Spec.ActiveDeadlineSeconds = new(int64(5)) // not through this subresource
			pod.Spec.Containers[len(pod.Spec.Containers)-1].Image = "changed"
			pod.Labels = map[string]string{"sneaky": "yes"}
			s := podStrategy{}
			s.Default(pod)
			s.PrepareForUpdate(pod, old, "resize")
			if len(tt.want) == 0 && (pod.Spec.ActiveDeadlineSeconds != nil || pod.Labels["sneaky"] != "" || pod.Spec.Containers[0].Image == "changed") {
				t.Errorf("the subresource changed more than resources: %v %v", pod.Spec.ActiveDeadlineSeconds, pod.Labels)
			}
			errs, handled := s.ValidateSubresource(pod, old, "resize")
			if !handled {
				t.Fatal("pods/resize is not validated by its own rules")
			}
			want := append([]string{}, tt.want...)
			sort.Strings(want)
			if d := cmp.Diff(want, errKeys(errs)); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
}

// TestMainUpdateCannotResize: resources change only through pods/resize.
func TestMainUpdateCannotResize(t *testing.T) {
	old := burstablePod(t)
	pod := old.DeepCopy()
	pod.Spec.Containers[0].Resources.Limits["memory"] = resource.MustParse("256Mi")
	s := podStrategy{}
	s.PrepareForUpdate(pod, old, "")
	if d := cmp.Diff([]string{"spec: FieldValueForbidden"}, errKeys(s.Validate(pod, old))); d != "" {
		t.Errorf("errors (-want +got):\n%s", d)
	}
	if _, handled := s.ValidateSubresource(pod, old, "status"); handled {
		t.Error("pods/status should keep the ordinary update rules")
	}
}

// TestPodResizeKeepsQOSClass: a Guaranteed pod whose limit grows past its request
// would become Burstable, which a resize may not do.
func TestPodResizeKeepsQOSClass(t *testing.T) {
	old := mustYAML[corev1.Pod](t, `
metadata: {name: g, namespace: default, uid: u2, resourceVersion: "5"}
spec:
  containers: [{name: app, image: busybox, resources: {limits: {cpu: 100m, memory: 64Mi}}}]
`)
	if errs := create(podStrategy{}, old); len(errs) > 0 || old.Status.QOSClass != corev1.PodQOSGuaranteed {
		t.Fatalf("stored pod: %v %s", errs, old.Status.QOSClass)
	}
	s := podStrategy{}
	for _, tc := range []struct {
		limit string
		want  []string
	}{{"128Mi", []string{"spec: FieldValueInvalid"}}, {"32Mi", []string{}}} {
		pod := old.DeepCopy()
		pod.Spec.Containers[0].Resources.Limits["memory"] = resource.MustParse(tc.limit)
		if tc.limit == "32Mi" {
			pod.Spec.Containers[0].Resources.Requests["memory"] = resource.MustParse(tc.limit)
		}
		s.PrepareForUpdate(pod, old, "resize")
		errs, _ := s.ValidateSubresource(pod, old, "resize")
		if d := cmp.Diff(tc.want, errKeys(errs)); d != "" {
			t.Errorf("limit %s: errors (-want +got):\n%s", tc.limit, d)
		}
	}
}
