package apiserver

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"

	"skiff/internal/store"
)

// Annotations that make a StorageClass the cluster's default (the beta one is
// still honoured by Kubernetes).
const (
	defaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

var storageClassesGVR = storagev1.SchemeGroupVersion.WithResource("storageclasses")

// defaultStorageClass gives a claim that names no class the default one, as the
// DefaultStorageClass admission plugin does. An explicit "" means "no class" and
// is kept. With several defaults the newest wins, as in Kubernetes; with none the
// claim is left without a class.
func (ad *admission) defaultStorageClass(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if pvc.Spec.StorageClassName != nil {
		return nil
	}
	ep, ok := ad.api.endpoints[storageClassesGVR]
	if !ok {
		return nil
	}
	objs, _, _, err := ep.store.List(ctx, store.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return err
	}
	var best *storagev1.StorageClass
	for _, o := range objs {
		sc := o.(*storagev1.StorageClass)
		if !isDefaultClass(sc) {
			continue
		}
		if best == nil || sc.CreationTimestamp.After(best.CreationTimestamp.Time) ||
			(sc.CreationTimestamp.Equal(&best.CreationTimestamp) && sc.Name < best.Name) {
			best = sc
		}
	}
	if best != nil {
		name := best.Name
		pvc.Spec.StorageClassName = &name
	}
	return nil
}

func isDefaultClass(sc *storagev1.StorageClass) bool {
	return sc.Annotations[defaultClassAnnotation] == "true" || sc.Annotations[betaDefaultClassAnnotation] == "true"
}
