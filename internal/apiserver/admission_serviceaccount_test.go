package apiserver

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMountServiceAccountToken(t *testing.T) {
	no, yes := false, true
	mount := corev1.VolumeMount{Name: "kube-api-access-abcde", ReadOnly: true, MountPath: serviceAccountMountPath}
	own := corev1.VolumeMount{Name: "mine", MountPath: serviceAccountMountPath}
	tests := []struct {
		name        string
		pod         corev1.PodSpec
		sa          *corev1.ServiceAccount
		wantVolumes []string
		wantMounts  [][]corev1.VolumeMount // init containers first, then containers
	}{
		{name: "every container gets the mount",
			pod:         corev1.PodSpec{InitContainers: []corev1.Container{{Name: "i"}}, Containers: []corev1.Container{{Name: "a"}, {Name: "b"}}},
			wantVolumes: []string{"kube-api-access-abcde"},
			wantMounts:  [][]corev1.VolumeMount{{mount}, {mount}, {mount}}},
		{name: "the pod opts out",
			pod:         corev1.PodSpec{AutomountServiceAccountToken: &no, Containers: []corev1.Container{{Name: "a"}}},
			wantVolumes: nil, wantMounts: [][]corev1.VolumeMount{nil}},
		{name: "the service account opts out",
			pod:         corev1.PodSpec{Containers: []corev1.Container{{Name: "a"}}},
			sa:          &corev1.ServiceAccount{AutomountServiceAccountToken: &no},
			wantVolumes: nil, wantMounts: [][]corev1.VolumeMount{nil}},
		{name: "the pod overrides its service account",
			pod:         corev1.PodSpec{AutomountServiceAccountToken: &yes, Containers: []corev1.Container{{Name: "a"}}},
			sa:          &corev1.ServiceAccount{AutomountServiceAccountToken: &no},
			wantVolumes: []string{"kube-api-access-abcde"}, wantMounts: [][]corev1.VolumeMount{{mount}}},
		{name: "a container with its own mount there is left alone",
			pod:         corev1.PodSpec{Volumes: []corev1.Volume{{Name: "mine"}}, Containers: []corev1.Container{{Name: "a", VolumeMounts: []corev1.VolumeMount{own}}}},
			wantVolumes: []string{"mine"}, wantMounts: [][]corev1.VolumeMount{{own}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: tt.pod}
			mountServiceAccountToken(pod, tt.sa, "abcde")
			var vols []string
			for _, v := range pod.Spec.Volumes {
				vols = append(vols, v.Name)
			}
			if d := cmp.Diff(tt.wantVolumes, vols); d != "" {
				t.Errorf("volumes (-want +got):\n%s", d)
			}
			var mounts [][]corev1.VolumeMount
			for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
				mounts = append(mounts, c.VolumeMounts)
			}
			if d := cmp.Diff(tt.wantMounts, mounts); d != "" {
				t.Errorf("mounts (-want +got):\n%s", d)
			}
		})
	}
}

func TestServiceAccountVolume(t *testing.T) {
	v := serviceAccountVolume("kube-api-access-x")
	p := v.Projected
	if p == nil || len(p.Sources) != 3 || *p.DefaultMode != 0o644 {
		t.Fatalf("volume = %+v", v)
	}
	if tok := p.Sources[0].ServiceAccountToken; tok == nil || tok.Path != "token" || *tok.ExpirationSeconds != 3607 || tok.Audience != "" {
		t.Errorf("token source = %+v", tok)
	}
	if cm := p.Sources[1].ConfigMap; cm == nil || cm.Name != "kube-root-ca.crt" || cm.Items[0] != (corev1.KeyToPath{Key: "ca.crt", Path: "ca.crt"}) {
		t.Errorf("ca source = %+v", cm)
	}
	if d := p.Sources[2].DownwardAPI; d == nil || d.Items[0].Path != "namespace" || d.Items[0].FieldRef.FieldPath != "metadata.namespace" {
		t.Errorf("namespace source = %+v", d)
	}
}
