package kubelet

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svc(ns, name, ip string, ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: corev1.ServiceSpec{ClusterIP: ip, Ports: ports}}
}

func TestServiceLinkEnv(t *testing.T) {
	master := svc("default", "kubernetes", "10.43.0.1", corev1.ServicePort{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP})
	masterEnv := []envVar{
		{"KUBERNETES_SERVICE_HOST", "10.43.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}, {"KUBERNETES_SERVICE_PORT_HTTPS", "443"},
		{"KUBERNETES_PORT", "tcp://10.43.0.1:443"}, {"KUBERNETES_PORT_443_TCP", "tcp://10.43.0.1:443"},
		{"KUBERNETES_PORT_443_TCP_PROTO", "tcp"}, {"KUBERNETES_PORT_443_TCP_PORT", "443"}, {"KUBERNETES_PORT_443_TCP_ADDR", "10.43.0.1"},
	}
	fooEnv := []envVar{
		{"FOO_BAR_SERVICE_HOST", "10.43.0.9"}, {"FOO_BAR_SERVICE_PORT", "80"}, {"FOO_BAR_SERVICE_PORT_DNS_UDP", "53"},
		{"FOO_BAR_PORT", "tcp://10.43.0.9:80"},
		{"FOO_BAR_PORT_80_TCP", "tcp://10.43.0.9:80"}, {"FOO_BAR_PORT_80_TCP_PROTO", "tcp"}, {"FOO_BAR_PORT_80_TCP_PORT", "80"}, {"FOO_BAR_PORT_80_TCP_ADDR", "10.43.0.9"},
		{"FOO_BAR_PORT_53_UDP", "udp://10.43.0.9:53"}, {"FOO_BAR_PORT_53_UDP_PROTO", "udp"}, {"FOO_BAR_PORT_53_UDP_PORT", "53"}, {"FOO_BAR_PORT_53_UDP_ADDR", "10.43.0.9"},
	}
	all := []*corev1.Service{
		master,
		svc("shop", "foo-bar", "10.43.0.9", corev1.ServicePort{Port: 80}, corev1.ServicePort{Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP}),
		svc("shop", "headless", corev1.ClusterIPNone, corev1.ServicePort{Port: 80}),
		svc("shop", "external", "", corev1.ServicePort{Port: 80}),
		svc("other", "elsewhere", "10.43.0.10", corev1.ServicePort{Port: 80}),
	}
	for _, tc := range []struct {
		name  string
		ns    string
		links bool
		want  []envVar
	}{
		{"links in the pod's namespace, plus the API server", "shop", true, append(append([]envVar{}, fooEnv...), masterEnv...)},
		{"links off keep the API server", "shop", false, masterEnv},
		{"a namespace without services", "empty", true, masterEnv},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, serviceLinkEnv(all, tc.ns, tc.links), cmp.AllowUnexported(envVar{})); d != "" {
				t.Errorf("env (-want +got):\n%s", d)
			}
		})
	}
}

func TestServiceVarsIPv6(t *testing.T) {
	got := serviceVars(svc("ns", "v6", "fd00::10", corev1.ServicePort{Port: 8080}))
	if got[2] != (envVar{"V6_PORT", "tcp://[fd00::10]:8080"}) {
		t.Errorf("V6_PORT = %v, want the address in brackets", got[2])
	}
}

func TestWithServiceEnv(t *testing.T) {
	got := withServiceEnv([]envVar{{"A_SERVICE_HOST", "1"}, {"A_SERVICE_PORT", "2"}}, []envVar{{"A_SERVICE_PORT", "mine"}, {"APP", "x"}})
	want := []envVar{{"A_SERVICE_HOST", "1"}, {"A_SERVICE_PORT", "mine"}, {"APP", "x"}}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(envVar{})); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
}
