package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

func debugger(name string) corev1.EphemeralContainer {
	return corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: name, Image: "busybox",
		TerminationMessagePath: "/dev/termination-log", TerminationMessagePolicy: "File", ImagePullPolicy: "IfNotPresent"}}
}

func TestEphemeralContainersUpdate(t *testing.T) {
	withOne := func(p *corev1.Pod) { p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("dbg")} }
	tests := []struct {
		name   string
		stored func(*corev1.Pod)
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"add one", nil, withOne, []string{}},
		{"add a second", withOne, func(p *corev1.Pod) { p.Spec.EphemeralContainers = append(p.Spec.EphemeralContainers, debugger("dbg2")) }, []string{}},
		{"remove", withOne, func(p *corev1.Pod) { p.Spec.EphemeralContainers = nil }, []string{"spec.ephemeralContainers: FieldValueForbidden"}},
		{"change", withOne, func(p *corev1.Pod) { p.Spec.EphemeralContainers[0].Image = "other" }, []string{"spec.ephemeralContainers: FieldValueForbidden"}},
		{"ports", nil, func(p *corev1.Pod) {
			ec := debugger("dbg")
			ec.Ports = []corev1.ContainerPort{{ContainerPort: 80}}
			ec.Resources.Limits = corev1.ResourceList{"cpu": resource.MustParse("1")}
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{ec}
		}, []string{"spec.ephemeralContainers[0].ports: FieldValueForbidden", "spec.ephemeralContainers[0].resources: FieldValueForbidden"}},
		{"unknown target", nil, func(p *corev1.Pod) {
			ec := debugger("dbg")
			ec.TargetContainerName = "nope"
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{ec}
		}, []string{"spec.ephemeralContainers[0].targetContainerName: FieldValueNotFound"}},
		{"name taken by a container", nil, func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger(p.Spec.Containers[0].Name)}
		}, []string{"spec.ephemeralContainers[0].name: FieldValueDuplicate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := storedPod(t)
			if tt.stored != nil {
				tt.stored(old)
			}
			pod := old.DeepCopy()
			tt.mutate(pod)
			pod.Spec.RestartPolicy = corev1.RestartPolicyNever // not through this subresource
			pod.Labels = map[string]string{"sneaky": "yes"}
			s := podStrategy{}
			s.Default(pod)
			s.PrepareForUpdate(pod, old, "ephemeralcontainers")
			if pod.Spec.RestartPolicy != old.Spec.RestartPolicy || pod.Labels["sneaky"] != "" {
				t.Errorf("the subresource changed more than ephemeral containers: %v %v", pod.Spec.RestartPolicy, pod.Labels)
			}
			if d := cmp.Diff(tt.want, errKeys(s.Validate(pod, old))); d != "" {
				t.Errorf("errors (-want +got):\n%s", d)
			}
		})
	}
}

func TestMainUpdateKeepsEphemeralContainers(t *testing.T) {
	old := storedPod(t)
	old.Spec.EphemeralContainers = []corev1.EphemeralContainer{debugger("dbg")}
	pod := old.DeepCopy()
	pod.Spec.EphemeralContainers = nil
	s := podStrategy{}
	s.PrepareForUpdate(pod, old, "")
	if len(pod.Spec.EphemeralContainers) != 1 {
		t.Errorf("a main update removed ephemeral containers")
	}
}
