package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestSlimPods: the shared informers' pods keep what scheduling and the
// controllers read and lose managedFields, container details and projected
// volumes.
func TestSlimPods(t *testing.T) {
	always := corev1.ContainerRestartPolicyAlways
	res := corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m")}}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "b"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}},
		Spec: corev1.PodSpec{NodeName: "n",
			InitContainers: []corev1.Container{{Name: "side", Image: "i", RestartPolicy: &always, Command: []string{"sh"}}},
			Containers: []corev1.Container{{Name: "c", Image: "i", Resources: res, Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
				Env: []corev1.EnvVar{{Name: "E", Value: "v"}}, VolumeMounts: []corev1.VolumeMount{{Name: "api", MountPath: "/var/run"}},
				ReadinessProbe: &corev1.Probe{}, TerminationMessagePath: "/dev/termination-log"}},
			Volumes: []corev1.Volume{
				{Name: "api", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "d"}}},
			}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning},
	}
	got, err := SlimPods(pod.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	want := pod.DeepCopy()
	want.ManagedFields = nil
	want.Spec.InitContainers[0].Command = nil
	c := &want.Spec.Containers[0]
	c.Env, c.VolumeMounts, c.ReadinessProbe, c.TerminationMessagePath = nil, nil, nil, ""
	want.Spec.Volumes = want.Spec.Volumes[1:]
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("SlimPods =\n%+v\nwant\n%+v", got, want)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}}, Data: map[string]string{"k": "v"}}
	if got, _ := SlimPods(cm); got.(*corev1.ConfigMap).ManagedFields != nil || got.(*corev1.ConfigMap).Data["k"] != "v" {
		t.Errorf("SlimPods on a ConfigMap = %+v", got)
	}
}
