package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestNamespaceCreate(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating}}
	if errs := rtCreate(namespaceStrategy{}, ns); len(errs) != 0 {
		t.Fatal(errs)
	}
	want := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "team-a", Labels: map[string]string{"kubernetes.io/metadata.name": "team-a"}},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
	if diff := cmp.Diff(want, ns); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestNamespaceUpdate(t *testing.T) {
	stored := func() *corev1.Namespace {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", ResourceVersion: "3"}}
		rtCreate(namespaceStrategy{}, ns)
		return ns
	}
	t.Run("main resource cannot drop finalizers or the name label", func(t *testing.T) {
		old := stored()
		ns := old.DeepCopy()
		ns.Spec.Finalizers = nil
		ns.Labels = map[string]string{"kubernetes.io/metadata.name": "other"}
		if errs := rtUpdate(namespaceStrategy{}, ns, old, ""); len(errs) != 0 {
			t.Fatal(errs)
		}
		if len(ns.Spec.Finalizers) != 1 || ns.Labels["kubernetes.io/metadata.name"] != "team-a" {
			t.Errorf("got %+v", ns)
		}
	})
	t.Run("finalize subresource may drop them", func(t *testing.T) {
		old := stored()
		ns := old.DeepCopy()
		ns.Spec.Finalizers = nil
		if errs := rtUpdate(namespaceStrategy{}, ns, old, "finalize"); len(errs) != 0 {
			t.Fatal(errs)
		}
		if len(ns.Spec.Finalizers) != 0 {
			t.Errorf("finalizers = %v", ns.Spec.Finalizers)
		}
	})
	t.Run("status phase must match deletionTimestamp", func(t *testing.T) {
		old := stored()
		ns := old.DeepCopy()
		ns.Status.Phase = corev1.NamespaceTerminating
		errs := rtUpdate(namespaceStrategy{}, ns, old, "status")
		if diff := cmp.Diff([]rtErr{{field.ErrorTypeInvalid, "status.Phase"}}, rtErrs(errs)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("name must be a DNS label", func(t *testing.T) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a.b"}}
		errs := rtCreate(namespaceStrategy{}, ns)
		if diff := cmp.Diff([]rtErr{{field.ErrorTypeInvalid, "metadata.name"}}, rtErrs(errs)); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
