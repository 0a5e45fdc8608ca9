package kubelet

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/ptr"
)

func TestSecurityContextMapsPodAndContainerSettings(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{SecurityContext: &corev1.PodSecurityContext{
		RunAsUser: ptr.To(int64(1000)), RunAsGroup: ptr.To(int64(3000)), FSGroup: ptr.To(int64(2000)),
		SupplementalGroups: []int64{4000},
		SeccompProfile:     &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}}}
	c := &corev1.Container{SecurityContext: &corev1.SecurityContext{
		RunAsUser: ptr.To(int64(1001)), ReadOnlyRootFilesystem: ptr.To(true), AllowPrivilegeEscalation: ptr.To(false),
		Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"CAP_NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}},
	}}
	sc := securityContext(pod, c)
	if sc.RunAsUser.GetValue() != 1001 || sc.RunAsGroup.GetValue() != 3000 {
		t.Errorf("user %v group %v, want the container's 1001 and the pod's 3000", sc.RunAsUser, sc.RunAsGroup)
	}
	if len(sc.SupplementalGroups) != 2 || sc.SupplementalGroups[0] != 4000 || sc.SupplementalGroups[1] != 2000 {
		t.Errorf("supplemental groups %v, want [4000 2000] (fsGroup joins)", sc.SupplementalGroups)
	}
	if !sc.ReadonlyRootfs || !sc.NoNewPrivs || sc.Privileged {
		t.Errorf("readonly %v no_new_privs %v privileged %v", sc.ReadonlyRootfs, sc.NoNewPrivs, sc.Privileged)
	}
	if sc.Seccomp.GetProfileType() != runtimeapi.SecurityProfile_RuntimeDefault {
		t.Errorf("seccomp %v, want RuntimeDefault", sc.Seccomp)
	}
	if got := sc.Capabilities; got.AddCapabilities[0] != "NET_ADMIN" || got.DropCapabilities[0] != "ALL" {
		t.Errorf("capabilities %v", got)
	}
}

func TestNonRootRefusesRootUsers(t *testing.T) {
	pod := &corev1.Pod{}
	pod.Name, pod.Namespace = "p", "ns"
	c := &corev1.Container{Name: "c"}
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"runAsUser 0", nonRootByUser(pod, c, 0), "container's runAsUser breaks non-root policy"},
		{"runAsUser 1000", nonRootByUser(pod, c, 1000), ""},
		{"image without user", nonRootByImage(pod, c, &runtimeapi.Image{}), "image will run as root"},
		{"image uid 0", nonRootByImage(pod, c, &runtimeapi.Image{Uid: &runtimeapi.Int64Value{}}), "image will run as root"},
		{"image user name", nonRootByImage(pod, c, &runtimeapi.Image{Username: "app"}), "non-numeric user (app)"},
		{"image uid 1000", nonRootByImage(pod, c, &runtimeapi.Image{Uid: &runtimeapi.Int64Value{Value: 1000}}), ""},
	}
	for _, tt := range tests {
		if tt.want == "" && tt.err != nil || tt.want != "" && (tt.err == nil || !strings.Contains(tt.err.Error(), tt.want)) {
			t.Errorf("%s: got %v, want %q", tt.name, tt.err, tt.want)
		}
	}
}
