package quota

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"
)

// quotas is a Store holding one namespace's quotas.
type quotas []*corev1.ResourceQuota

func (s quotas) List(string) ([]*corev1.ResourceQuota, error) { return s, nil }
func (s quotas) Get(context.Context, string, string) (*corev1.ResourceQuota, error) {
	return nil, errors.New("not used")
}
func (s quotas) UpdateStatus(context.Context, *corev1.ResourceQuota) (*corev1.ResourceQuota, error) {
	return nil, errors.New("not used")
}

// evaluations counts the writes handed to the library's evaluator.
type evaluations int

func (e *evaluations) Evaluate(admission.Attributes) error { *e++; return nil }

// TestValidateSkipsEvaluatorWithoutQuotas: a write to a namespace without a
// quota is admitted without waiting in the evaluator's queue; one to a
// namespace with a quota is evaluated.
func TestValidateSkipsEvaluatorWithoutQuotas(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}}
	at := admission.NewAttributesRecord(pod, nil, corev1.SchemeGroupVersion.WithKind("Pod"), "ns", "p",
		corev1.SchemeGroupVersion.WithResource("pods"), "", admission.Create, nil, false, &user.DefaultInfo{})
	for _, tt := range []struct {
		name   string
		store  quotas
		wanted evaluations
	}{
		{"no quota", nil, 0},
		{"a quota", quotas{{ObjectMeta: metav1.ObjectMeta{Name: "q", Namespace: "ns"}}}, 1},
	} {
		var got evaluations
		a := &Admission{eval: &got, access: &accessor{store: tt.store}}
		if err := a.Validate(context.Background(), at, nil); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.wanted {
			t.Errorf("%s: %d evaluations, want %d", tt.name, got, tt.wanted)
		}
	}
}
