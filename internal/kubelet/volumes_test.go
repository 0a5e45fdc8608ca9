package kubelet

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

func TestKubernetesServiceEnv(t *testing.T) {
	svc := &corev1.Service{Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1",
		Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}}
	got := withServiceEnv(kubernetesServiceEnv(svc), []envVar{{"KUBERNETES_PORT", "mine"}, {"APP", "x"}})
	want := []envVar{
		{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}, {"KUBERNETES_SERVICE_PORT_HTTPS", "443"},
		{"KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443"}, {"KUBERNETES_PORT_443_TCP_PROTO", "tcp"},
		{"KUBERNETES_PORT_443_TCP_PORT", "443"}, {"KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1"},
		{"KUBERNETES_PORT", "mine"}, {"APP", "x"},
	}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(envVar{})); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
}
