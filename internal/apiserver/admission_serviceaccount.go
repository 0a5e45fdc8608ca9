package apiserver

import (
	"context"
	"log/slog"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
)

// Where and how every pod gets its service account's credentials, as Kubernetes'
// ServiceAccount admission plugin gives them.
const (
	serviceAccountMountPath  = "/var/run/secrets/kubernetes.io/serviceaccount"
	serviceAccountVolumeName = "kube-api-access-"
	// serviceAccountTokenSeconds is Kubernetes' figure: an hour plus a few seconds,
	// so that a token of this lifetime is recognisable as an automounted one.
	serviceAccountTokenSeconds = 3607
	rootCAConfigMap            = "kube-root-ca.crt"
)

// serviceAccount mounts the pod's service account token unless the pod or its
// ServiceAccount opts out. Kubernetes refuses a pod whose ServiceAccount does not
// exist; here such a pod is admitted without a token, since nothing could issue
// one. The default ServiceAccount of a namespace created a moment ago is waited
// for briefly, as the controller that creates it may not have run yet.
func (ad *admission) serviceAccount(ctx context.Context, pod *corev1.Pod) {
	if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return
	}
	if pod.Spec.ServiceAccountName == "" {
		pod.Spec.ServiceAccountName = "default"
	}
	sa := ad.lookupServiceAccount(ctx, pod.Namespace, pod.Spec.ServiceAccountName)
	if sa == nil {
		slog.Debug("pod admitted without a service account token: no such service account",
			"pod", pod.Namespace+"/"+pod.Name, "serviceAccount", pod.Spec.ServiceAccountName)
		return
	}
	mountServiceAccountToken(pod, sa, utilrand.String(5))
}

// serviceAccountWait bounds the wait for the default ServiceAccount of a namespace
// created less than namespaceYoung ago; older namespaces are not waited for (a
// cluster may run without the controller that creates it).
const (
	serviceAccountWait = time.Second
	namespaceYoung     = 10 * time.Second
)

func (ad *admission) lookupServiceAccount(ctx context.Context, ns, name string) *corev1.ServiceAccount {
	ep := ad.api.endpoints[corev1.SchemeGroupVersion.WithResource("serviceaccounts")]
	wait := name == "default" && ad.namespaceYoung(ns)
	deadline := time.Now().Add(serviceAccountWait)
	for {
		if obj, ok := ep.store.Peek(ns, name); ok {
			return obj.(*corev1.ServiceAccount)
		}
		if !wait || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if obj, err := ep.store.Get(ctx, ns, name); err == nil {
		return obj.(*corev1.ServiceAccount)
	}
	return nil
}

func (ad *admission) namespaceYoung(ns string) bool {
	obj, ok := ad.api.endpoints[namespacesGVR].store.Peek("", ns)
	if !ok {
		return false
	}
	return time.Since(obj.(*corev1.Namespace).CreationTimestamp.Time) < namespaceYoung
}

// mountServiceAccountToken adds the projected token volume (token, the cluster CA,
// the namespace) and a read-only mount of it to every container that has nothing
// mounted at the service account path yet.
func mountServiceAccountToken(pod *corev1.Pod, sa *corev1.ServiceAccount, suffix string) {
	if !automount(pod, sa) {
		return
	}
	name := ""
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, serviceAccountVolumeName) && v.Projected != nil {
			name = v.Name
		}
	}
	each := func(cs []corev1.Container) {
		for i := range cs {
			if hasMountAt(cs[i].VolumeMounts, serviceAccountMountPath) {
				continue
			}
			if name == "" {
				name = serviceAccountVolumeName + suffix
				pod.Spec.Volumes = append(pod.Spec.Volumes, serviceAccountVolume(name))
			}
			cs[i].VolumeMounts = append(cs[i].VolumeMounts, corev1.VolumeMount{Name: name, ReadOnly: true, MountPath: serviceAccountMountPath})
		}
	}
	each(pod.Spec.InitContainers)
	each(pod.Spec.Containers)
}

// automount follows the pod's choice, then its ServiceAccount's; the default is yes.
func automount(pod *corev1.Pod, sa *corev1.ServiceAccount) bool {
	if pod.Spec.AutomountServiceAccountToken != nil {
		return *pod.Spec.AutomountServiceAccountToken
	}
	if sa != nil && sa.AutomountServiceAccountToken != nil {
		return *sa.AutomountServiceAccountToken
	}
	return true
}

func hasMountAt(mounts []corev1.VolumeMount, path string) bool {
	for _, m := range mounts {
		if strings.TrimSuffix(m.MountPath, "/") == path {
			return true
		}
	}
	return false
}

// serviceAccountVolume is the projected volume, fully defaulted: admission runs
// after the pod's defaults were applied.
func serviceAccountVolume(name string) corev1.Volume {
	exp := int64(serviceAccountTokenSeconds)
	mode := int32(0o644)
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: &mode,
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: &exp}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: rootCAConfigMap},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}}
}
