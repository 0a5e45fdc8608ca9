package apiserver

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"

	"skiff/internal/resources"
)

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name: "web", Image: "nginx:1",
				Ports: []corev1.ContainerPort{{ContainerPort: 80, Protocol: corev1.ProtocolTCP}},
				Env:   []corev1.EnvVar{{Name: "A", Value: "1"}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU: resource.MustParse("100m")}},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
			}, {Name: "side", Image: "busybox"}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
}

func testDeployment() *appsv1.Deployment {
	replicas := int32(3)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec: testPod().Spec},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxSurge: &intstr.IntOrString{IntVal: 1}}},
		},
	}
}

// TestTypeConverterKeepsManagedFields runs the same creates and updates through
// field managers built on the library's converter and on ours: the managed
// fields they record must be identical.
func TestTypeConverterKeepsManagedFields(t *testing.T) {
	lib := applyconfigurations.NewTypeConverter(resources.Scheme)
	cases := []struct {
		name     string
		resource string
		obj      runtime.Object
		steps    []fieldStep
	}{
		{"pod", "pods", testPod(), []fieldStep{
			{"kubectl-create", nil},
			{"kube-scheduler", func(o runtime.Object) { o.(*corev1.Pod).Spec.NodeName = "n1" }},
			{"kubectl-label", func(o runtime.Object) { o.(*corev1.Pod).Labels["tier"] = "front" }},
			{"kubectl-edit", func(o runtime.Object) {
				p := o.(*corev1.Pod)
				p.Spec.Containers[0].Image = "nginx:2"
				p.Spec.Containers = p.Spec.Containers[:1]
			}},
			// Duplicate keys pass through with the library's converter too.
			{"dup", func(o runtime.Object) {
				p := o.(*corev1.Pod)
				p.Spec.Containers[0].Env = append(p.Spec.Containers[0].Env, corev1.EnvVar{Name: "A", Value: "2"})
			}},
		}},
		{"deployment", "deployments", testDeployment(), []fieldStep{
			{"helm", nil},
			{"kubectl-scale", func(o runtime.Object) { *o.(*appsv1.Deployment).Spec.Replicas = 5 }},
			{"kubectl-set", func(o runtime.Object) {
				o.(*appsv1.Deployment).Spec.Template.Spec.Containers[1].Image = "busybox:2"
			}},
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info := infoFor(t, tc.resource)
			got := writeAll(t, newTypeConverter(lib), info, tc.obj, tc.steps)
			want := writeAll(t, lib, info, tc.obj, tc.steps)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("managed fields differ (-library +skiff):\n%s", diff)
			}
			if len(got) == 0 {
				t.Error("no managed fields recorded")
			}
		})
	}
}

// fieldStep is one write: manager changes the object (nil: creates it as is).
type fieldStep struct {
	manager string
	change  func(runtime.Object)
}

func infoFor(t testing.TB, resource string) *resources.Info {
	for _, i := range resources.All() {
		if i.Resource == resource && i.GroupVersion() == i.Storage {
			return i
		}
	}
	t.Fatalf("no resource %q", resource)
	return nil
}

// writeAll applies the steps in order, each as an update by its manager (the
// first as a create), and returns the managed fields after each step.
func writeAll(t *testing.T, tc managedfields.TypeConverter, info *resources.Info, obj runtime.Object, steps []fieldStep) [][]metav1.ManagedFieldsEntry {
	t.Helper()
	managers, err := newManagers(tc, info)
	if err != nil {
		t.Fatal(err)
	}
	live, err := resources.Scheme.New(info.StorageGVK())
	if err != nil {
		t.Fatal(err)
	}
	var out [][]metav1.ManagedFieldsEntry
	for i, s := range steps {
		next := obj.DeepCopyObject()
		if i > 0 {
			next = live.DeepCopyObject()
		}
		if s.change != nil {
			s.change(next)
		}
		if live, err = managers[""].Update(live, next, s.manager); err != nil {
			t.Fatalf("step %d (%s): %v", i, s.manager, err)
		}
		m, _ := meta.Accessor(live)
		fields := m.GetManagedFields()
		for j := range fields {
			fields[j].Time = nil // the two runs write at different instants
		}
		out = append(out, fields)
	}
	return out
}

// BenchmarkFieldManagerPodCreate measures the field manager's share of a pod
// create with the library's converter and with ours.
func BenchmarkFieldManagerPodCreate(b *testing.B) {
	lib := applyconfigurations.NewTypeConverter(resources.Scheme)
	for _, c := range []struct {
		name string
		tc   managedfields.TypeConverter
	}{{"library", lib}, {"skiff", newTypeConverter(lib)}} {
		b.Run(c.name, func(b *testing.B) {
			managers, err := newManagers(c.tc, infoFor(b, "pods"))
			if err != nil {
				b.Fatal(err)
			}
			pod := testPod()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := managers[""].Update(&corev1.Pod{}, pod.DeepCopy(), "bench"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
