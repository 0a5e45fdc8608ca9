package auth

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestReferencesKeepEdges: the index's slim copy of a pod names exactly the
// objects the whole pod does, and keeps no service account token or downward
// API projection.
func TestReferencesKeepEdges(t *testing.T) {
	ref := func(n string) corev1.LocalObjectReference { return corev1.LocalObjectReference{Name: n} }
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"}, Spec: corev1.PodSpec{
		NodeName: "n1", ServiceAccountName: "sa", ImagePullSecrets: []corev1.LocalObjectReference{ref("pull")},
		Volumes: []corev1.Volume{
			{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "vol-secret", Items: []corev1.KeyToPath{{Key: "k", Path: "p"}}}}},
			{Name: "c", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: ref("vol-cm")}}},
			{Name: "api", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
				{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: ref("kube-root-ca.crt"), Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
				{Secret: &corev1.SecretProjection{LocalObjectReference: ref("proj-secret")}},
				{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace"}}}},
			}}}},
			{Name: "tok", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}},
			{Name: "claim", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}},
			{Name: "scratch", VolumeSource: corev1.VolumeSource{Ephemeral: &corev1.EphemeralVolumeSource{VolumeClaimTemplate: &corev1.PersistentVolumeClaimTemplate{}}}},
			{Name: "csi", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d", NodePublishSecretRef: &corev1.LocalObjectReference{Name: "csi-secret"}}}},
			{Name: "empty", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
		Containers: []corev1.Container{{Name: "c", Env: []corev1.EnvVar{{Name: "E", ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: ref("env-secret"), Key: "k"}}}}}},
	}}
	slim := references(pod)
	names := []string{"pull", "vol-secret", "vol-cm", "kube-root-ca.crt", "proj-secret", "data", "p-scratch", "csi-secret", "env-secret", "token", "other"}
	for _, n := range names {
		for kind, uses := range map[string]func(*corev1.Pod, string) bool{"secret": podSecrets, "configmap": podConfigMaps, "claim": podClaims} {
			if got, want := uses(slim, n), uses(pod, n); got != want {
				t.Errorf("%s %q: slim copy says %v, the pod %v", kind, n, got, want)
			}
		}
	}
	if podServiceAccount(slim) != "sa" || slim.Spec.NodeName != "n1" {
		t.Errorf("slim copy lost the service account or node: %+v", slim.Spec)
	}
	var kept []string
	for _, v := range slim.Spec.Volumes {
		kept = append(kept, v.Name)
		if v.Projected != nil {
			for _, src := range v.Projected.Sources {
				if src.ServiceAccountToken != nil || src.DownwardAPI != nil || (src.ConfigMap != nil && src.ConfigMap.Items != nil) {
					t.Errorf("volume %s keeps %+v", v.Name, src)
				}
			}
		}
	}
	if len(kept) != 6 {
		t.Errorf("slim copy keeps volumes %v, want the six that name objects", kept)
	}
}
