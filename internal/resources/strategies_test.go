package resources

import (
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestStatusWriteMetadata: a status write may change labels and annotations, as in
// Kubernetes, except for the few kinds (pods among them) whose status writers are
// not trusted with metadata.
func TestStatusWriteMetadata(t *testing.T) {
	tests := []struct {
		name     string
		strategy Strategy
		obj      func() runtime.Object
		kept     bool
	}{
		{"ingress", ingressStrategy{}, func() runtime.Object { return &networkingv1.Ingress{} }, true},
		{"namespace", namespaceStrategy{}, func() runtime.Object { return &corev1.Namespace{} }, true},
		{"certificate signing request", csrStrategy{}, func() runtime.Object { return &certificatesv1.CertificateSigningRequest{} }, true},
		{"service", serviceStrategy{}, func() runtime.Object { return &corev1.Service{} }, true},
		{"pod", podStrategy{}, func() runtime.Object { return &corev1.Pod{} }, false},
	}
	for _, tt := range tests {
		old, obj := tt.obj(), tt.obj()
		m := metaOf(obj)
		m.Annotations = map[string]string{"patchedstatus": "true"}
		m.Labels = map[string]string{"l": "v"}
		tt.strategy.PrepareForUpdate(obj, old, "status")
		got := metaOf(obj)
		if kept := got.Annotations["patchedstatus"] == "true" && got.Labels["l"] == "v"; kept != tt.kept {
			t.Errorf("%s: metadata kept = %v, want %v (%v %v)", tt.name, kept, tt.kept, got.Annotations, got.Labels)
		}
	}
}
