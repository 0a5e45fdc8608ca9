package kubelet

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func withSysctls(pod *corev1.Pod, sysctls ...corev1.Sysctl) *corev1.Pod {
	pod.Spec.SecurityContext = &corev1.PodSecurityContext{Sysctls: sysctls}
	return pod
}

// A pod with an unsafe sysctl is refused before any of it runs; safe ones, in either
// notation, reach the runtime with the sandbox.
func TestFakeRuntimeSysctls(t *testing.T) {
	tests := []struct {
		name        string
		sysctls     []corev1.Sysctl
		wantPhase   corev1.PodPhase
		wantMessage string // in status.message when refused
		wantSandbox map[string]string
	}{
		{name: "safe", sysctls: []corev1.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}},
			wantPhase: corev1.PodRunning, wantSandbox: map[string]string{"kernel.shm_rmid_forced": "1"}},
		{name: "safe with slashes", sysctls: []corev1.Sysctl{{Name: "net/ipv4/ip_local_port_range", Value: "1024 65000"}},
			wantPhase: corev1.PodRunning, wantSandbox: map[string]string{"net.ipv4.ip_local_port_range": "1024 65000"}},
		{name: "unsafe", sysctls: []corev1.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}, {Name: "kernel.msgmax", Value: "10000000000"}},
			wantPhase: corev1.PodFailed, wantMessage: `forbidden sysctl: "kernel.msgmax" not allowlisted`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newFakeNode(t)
			n.images.SetFakeImages([]string{"skiff.local/pause:1"})
			pod := withSysctls(simplePod("web"), tt.sysctls...)
			n.add(pod)
			n.sync("web")
			got := n.get("web")
			if got.Status.Phase != tt.wantPhase {
				t.Fatalf("phase %s, want %s (%s: %s)", got.Status.Phase, tt.wantPhase, got.Status.Reason, got.Status.Message)
			}
			if tt.wantMessage != "" {
				if got.Status.Reason != "SysctlForbidden" || !strings.Contains(got.Status.Message, tt.wantMessage) {
					t.Errorf("reason %q message %q, want SysctlForbidden and %q", got.Status.Reason, got.Status.Message, tt.wantMessage)
				}
				if c := n.called("RunPodSandbox"); c != 0 {
					t.Errorf("a refused pod got %d sandboxes", c)
				}
				return
			}
			cfg := n.k.sandboxConfig(got, 0, "/parent")
			for k, v := range tt.wantSandbox {
				if cfg.Linux.Sysctls[k] != v || len(cfg.Linux.Sysctls) != len(tt.wantSandbox) {
					t.Errorf("sandbox sysctls %v, want %v", cfg.Linux.Sysctls, tt.wantSandbox)
				}
			}
		})
	}
}

// A pod asking for a host port another pod on the node already holds is refused
// (as when it names its node itself and skips the scheduler); its controller then
// replaces it. A pod on another port runs.
func TestFakeRuntimeHostPortConflict(t *testing.T) {
	n := newFakeNode(t)
	n.images.SetFakeImages([]string{"skiff.local/pause:1"})
	withPort := func(name string, port int32) *corev1.Pod {
		p := simplePod(name)
		p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: port, HostPort: port, Protocol: corev1.ProtocolTCP}}
		return p
	}
	n.add(withPort("first", 21017))
	n.sync("first")
	n.add(withPort("second", 21017))
	n.sync("second")
	n.add(withPort("other", 21018))
	n.sync("other")
	if got := n.get("first"); got.Status.Phase != corev1.PodRunning {
		t.Errorf("first pod %s, want Running", got.Status.Phase)
	}
	got := n.get("second")
	if got.Status.Phase != corev1.PodFailed || got.Status.Reason != reasonNodePorts || !strings.Contains(got.Status.Message, "free ports") {
		t.Errorf("second pod %s %s %q, want Failed NodePorts", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	if got := n.get("other"); got.Status.Phase != corev1.PodRunning {
		t.Errorf("pod on another port %s, want Running", got.Status.Phase)
	}
}
