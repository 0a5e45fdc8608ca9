package auth

import (
	"slices"

	corev1 "k8s.io/api/core/v1"

	"skiff/internal/volumebinding"
)

// The node authorizer lets a node read an object only when one of its pods needs it:
// a pod's references are the edges of Kubernetes' node graph. The index keeps
// only these names for every bound pod, a small part of a decoded pod.
type podRefs struct {
	namespace      string
	serviceAccount string
	secrets        []string // volumes, projected volumes, environment, image pull secrets, volume plugins' secret references
	configMaps     []string // volumes, projected volumes, environment
	claims         []string // PersistentVolumeClaims, generic ephemeral volumes' included (named <pod>-<volume>)
}

func refsOf(pod *corev1.Pod) *podRefs {
	r := &podRefs{namespace: pod.Namespace, serviceAccount: pod.Spec.ServiceAccountName, claims: volumebinding.PodClaims(pod)}
	if r.serviceAccount == "" {
		r.serviceAccount = "default"
	}
	for _, s := range pod.Spec.ImagePullSecrets {
		r.secrets = append(r.secrets, s.Name)
	}
	for _, v := range pod.Spec.Volumes {
		r.volume(v.VolumeSource)
	}
	for _, c := range pod.Spec.InitContainers {
		r.env(c.Env, c.EnvFrom)
	}
	for _, c := range pod.Spec.Containers {
		r.env(c.Env, c.EnvFrom)
	}
	for _, c := range pod.Spec.EphemeralContainers {
		r.env(c.Env, c.EnvFrom)
	}
	r.secrets, r.configMaps = compactNames(r.secrets), compactNames(r.configMaps)
	return r
}

func (r *podRefs) volume(v corev1.VolumeSource) {
	switch {
	case v.Secret != nil:
		r.secrets = append(r.secrets, v.Secret.SecretName)
	case v.ConfigMap != nil:
		r.configMaps = append(r.configMaps, v.ConfigMap.Name)
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			if src.Secret != nil {
				r.secrets = append(r.secrets, src.Secret.Name)
			}
			if src.ConfigMap != nil {
				r.configMaps = append(r.configMaps, src.ConfigMap.Name)
			}
		}
	case v.CSI != nil && v.CSI.NodePublishSecretRef != nil:
		r.secrets = append(r.secrets, v.CSI.NodePublishSecretRef.Name)
	case v.ISCSI != nil && v.ISCSI.SecretRef != nil:
		r.secrets = append(r.secrets, v.ISCSI.SecretRef.Name)
	case v.RBD != nil && v.RBD.SecretRef != nil:
		r.secrets = append(r.secrets, v.RBD.SecretRef.Name)
	case v.CephFS != nil && v.CephFS.SecretRef != nil:
		r.secrets = append(r.secrets, v.CephFS.SecretRef.Name)
	case v.FlexVolume != nil && v.FlexVolume.SecretRef != nil:
		r.secrets = append(r.secrets, v.FlexVolume.SecretRef.Name)
	case v.AzureFile != nil:
		r.secrets = append(r.secrets, v.AzureFile.SecretName)
	}
}

func (r *podRefs) env(env []corev1.EnvVar, from []corev1.EnvFromSource) {
	for _, e := range env {
		switch {
		case e.ValueFrom == nil:
		case e.ValueFrom.SecretKeyRef != nil:
			r.secrets = append(r.secrets, e.ValueFrom.SecretKeyRef.Name)
		case e.ValueFrom.ConfigMapKeyRef != nil:
			r.configMaps = append(r.configMaps, e.ValueFrom.ConfigMapKeyRef.Name)
		}
	}
	for _, e := range from {
		if e.SecretRef != nil {
			r.secrets = append(r.secrets, e.SecretRef.Name)
		}
		if e.ConfigMapRef != nil {
			r.configMaps = append(r.configMaps, e.ConfigMapRef.Name)
		}
	}
}

// compactNames sorts and dedupes names in a slice of their own size.
func compactNames(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	slices.Sort(names)
	return slices.Clip(slices.Compact(names))
}

func podSecrets(r *podRefs, name string) bool    { return slices.Contains(r.secrets, name) }
func podConfigMaps(r *podRefs, name string) bool { return slices.Contains(r.configMaps, name) }
func podClaims(r *podRefs, name string) bool     { return slices.Contains(r.claims, name) }
