package auth

import corev1 "k8s.io/api/core/v1"

// The node authorizer lets a node read an object only when one of its pods needs it:
// these functions list what a pod references, the edges of Kubernetes' node graph.

// podSecrets reports whether pod references the Secret name (volumes, projected
// volumes, environment, image pull secrets, volume plugins' secret references).
func podSecrets(pod *corev1.Pod, name string) bool {
	for _, s := range pod.Spec.ImagePullSecrets {
		if s.Name == name {
			return true
		}
	}
	for _, v := range pod.Spec.Volumes {
		if volumeSecret(v.VolumeSource, name) {
			return true
		}
	}
	return envReferences(pod, func(e corev1.EnvVar) bool {
		return e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name
	}, func(e corev1.EnvFromSource) bool {
		return e.SecretRef != nil && e.SecretRef.Name == name
	})
}

func volumeSecret(v corev1.VolumeSource, name string) bool {
	switch {
	case v.Secret != nil:
		return v.Secret.SecretName == name
	case v.Projected != nil:
		for _, src := range v.Projected.Sources {
			if src.Secret != nil && src.Secret.Name == name {
				return true
			}
		}
	case v.CSI != nil:
		return v.CSI.NodePublishSecretRef != nil && v.CSI.NodePublishSecretRef.Name == name
	case v.ISCSI != nil:
		return v.ISCSI.SecretRef != nil && v.ISCSI.SecretRef.Name == name
	case v.RBD != nil:
		return v.RBD.SecretRef != nil && v.RBD.SecretRef.Name == name
	case v.CephFS != nil:
		return v.CephFS.SecretRef != nil && v.CephFS.SecretRef.Name == name
	case v.FlexVolume != nil:
		return v.FlexVolume.SecretRef != nil && v.FlexVolume.SecretRef.Name == name
	case v.AzureFile != nil:
		return v.AzureFile.SecretName == name
	}
	return false
}

// podConfigMaps reports whether pod references the ConfigMap name.
func podConfigMaps(pod *corev1.Pod, name string) bool {
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.ConfigMap != nil && v.ConfigMap.Name == name:
			return true
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if src.ConfigMap != nil && src.ConfigMap.Name == name {
					return true
				}
			}
		}
	}
	return envReferences(pod, func(e corev1.EnvVar) bool {
		return e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == name
	}, func(e corev1.EnvFromSource) bool {
		return e.ConfigMapRef != nil && e.ConfigMapRef.Name == name
	})
}

// podClaims reports whether pod uses the PersistentVolumeClaim name, directly or
// as a generic ephemeral volume (whose claim is named <pod>-<volume>).
func podClaims(pod *corev1.Pod, name string) bool {
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name:
			return true
		case v.Ephemeral != nil && pod.Name+"-"+v.Name == name:
			return true
		}
	}
	return false
}

// envReferences applies the two tests to every container's environment.
func envReferences(pod *corev1.Pod, env func(corev1.EnvVar) bool, envFrom func(corev1.EnvFromSource) bool) bool {
	check := func(c []corev1.EnvVar, f []corev1.EnvFromSource) bool {
		for _, e := range c {
			if env(e) {
				return true
			}
		}
		for _, e := range f {
			if envFrom(e) {
				return true
			}
		}
		return false
	}
	for _, c := range pod.Spec.InitContainers {
		if check(c.Env, c.EnvFrom) {
			return true
		}
	}
	for _, c := range pod.Spec.Containers {
		if check(c.Env, c.EnvFrom) {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if check(c.Env, c.EnvFrom) {
			return true
		}
	}
	return false
}

// podServiceAccount is the service account pod runs as.
func podServiceAccount(pod *corev1.Pod) string {
	if pod.Spec.ServiceAccountName == "" {
		return "default"
	}
	return pod.Spec.ServiceAccountName
}
