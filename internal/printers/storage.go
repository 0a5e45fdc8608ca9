package printers

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Annotations that still override or complement the storage fields.
const (
	betaStorageClassAnnotation = "volume.beta.kubernetes.io/storage-class"
	defaultClassAnnotation     = "storageclass.kubernetes.io/is-default-class"
	betaDefaultClassAnnotation = "storageclass.beta.kubernetes.io/is-default-class"
)

func addStorage(m map[schema.GroupKind]*Printer) {
	pvSpecDoc := corev1.PersistentVolumeSpec{}.SwaggerDoc()
	pvStatusDoc := corev1.PersistentVolumeStatus{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Capacity", typeString, pvSpecDoc["capacity"]),
		col("Access Modes", typeString, pvSpecDoc["accessModes"]),
		col("Reclaim Policy", typeString, pvSpecDoc["persistentVolumeReclaimPolicy"]),
		col("Status", typeString, pvStatusDoc["phase"]),
		col("Claim", typeString, pvSpecDoc["claimRef"]),
		col("StorageClass", typeString, "The storage class the volume belongs to."),
		col("VolumeAttributesClass", typeString, "The volume attributes class of the volume."),
		col("Reason", typeString, pvStatusDoc["reason"]),
		ageColumn(),
		wide("VolumeMode", typeString, pvSpecDoc["volumeMode"]),
	}, pvRow), "", "PersistentVolume")

	pvcSpecDoc := corev1.PersistentVolumeClaimSpec{}.SwaggerDoc()
	pvcStatusDoc := corev1.PersistentVolumeClaimStatus{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Status", typeString, pvcStatusDoc["phase"]),
		col("Volume", typeString, pvcSpecDoc["volumeName"]),
		col("Capacity", typeString, pvcStatusDoc["capacity"]),
		col("Access Modes", typeString, pvcStatusDoc["accessModes"]),
		col("StorageClass", typeString, "The storage class the claim asks for."),
		col("VolumeAttributesClass", typeString, "The volume attributes class the claim asks for."),
		ageColumn(),
		wide("VolumeMode", typeString, pvcSpecDoc["volumeMode"]),
	}, pvcRow), "", "PersistentVolumeClaim")

	scDoc := storagev1.StorageClass{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Provisioner", typeString, scDoc["provisioner"]),
		col("ReclaimPolicy", typeString, scDoc["reclaimPolicy"]),
		col("VolumeBindingMode", typeString, scDoc["volumeBindingMode"]),
		col("AllowVolumeExpansion", typeString, scDoc["allowVolumeExpansion"]),
		ageColumn(),
	}, storageClassRow), "storage.k8s.io", "StorageClass")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("DriverName", typeString, storagev1.VolumeAttributesClass{}.SwaggerDoc()["driverName"]),
		ageColumn(),
	}, func(v *storagev1.VolumeAttributesClass, now time.Time) []interface{} {
		return []interface{}{v.Name, v.DriverName, age(now, v.CreationTimestamp)}
	}), "storage.k8s.io", "VolumeAttributesClass")
}

func pvRow(pv *corev1.PersistentVolume, now time.Time) []interface{} {
	claim := ""
	if ref := pv.Spec.ClaimRef; ref != nil {
		claim = ref.Namespace + "/" + ref.Name
	}
	phase := string(pv.Status.Phase)
	if pv.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	class := pv.Annotations[betaStorageClassAnnotation]
	if _, annotated := pv.Annotations[betaStorageClassAnnotation]; !annotated {
		class = pv.Spec.StorageClassName
	}
	capacity := pv.Spec.Capacity[corev1.ResourceStorage]
	return []interface{}{
		pv.Name,
		capacity.String(),
		accessModes(pv.Spec.AccessModes),
		string(pv.Spec.PersistentVolumeReclaimPolicy),
		phase,
		claim,
		class,
		optional(pv.Spec.VolumeAttributesClassName),
		pv.Status.Reason,
		age(now, pv.CreationTimestamp),
		volumeMode(pv.Spec.VolumeMode),
	}
}

func pvcRow(pvc *corev1.PersistentVolumeClaim, now time.Time) []interface{} {
	phase := string(pvc.Status.Phase)
	if pvc.DeletionTimestamp != nil {
		phase = "Terminating"
	}
	// Capacity and access modes are the bound volume's, so unknown until bound.
	capacity, modes := "", ""
	if pvc.Spec.VolumeName != "" {
		q := pvc.Status.Capacity[corev1.ResourceStorage]
		capacity, modes = q.String(), accessModes(pvc.Status.AccessModes)
	}
	class, annotated := pvc.Annotations[betaStorageClassAnnotation]
	if !annotated {
		class = stringValue(pvc.Spec.StorageClassName)
	}
	return []interface{}{
		pvc.Name,
		phase,
		pvc.Spec.VolumeName,
		capacity,
		modes,
		class,
		optional(pvc.Spec.VolumeAttributesClassName),
		age(now, pvc.CreationTimestamp),
		volumeMode(pvc.Spec.VolumeMode),
	}
}

func storageClassRow(sc *storagev1.StorageClass, now time.Time) []interface{} {
	name := sc.Name
	if sc.Annotations[defaultClassAnnotation] == "true" || sc.Annotations[betaDefaultClassAnnotation] == "true" {
		name += " (default)"
	}
	reclaim := string(corev1.PersistentVolumeReclaimDelete)
	if sc.ReclaimPolicy != nil {
		reclaim = string(*sc.ReclaimPolicy)
	}
	binding := string(storagev1.VolumeBindingImmediate)
	if sc.VolumeBindingMode != nil {
		binding = string(*sc.VolumeBindingMode)
	}
	expand := sc.AllowVolumeExpansion != nil && *sc.AllowVolumeExpansion
	return []interface{}{name, sc.Provisioner, reclaim, binding, expand, age(now, sc.CreationTimestamp)}
}

// accessModes abbreviates access modes (RWO, ROX, RWX, RWOP) in that fixed order,
// whatever order or repetition the object lists them in.
func accessModes(modes []corev1.PersistentVolumeAccessMode) string {
	has := map[corev1.PersistentVolumeAccessMode]bool{}
	for _, m := range modes {
		has[m] = true
	}
	var out []string
	for _, m := range []struct {
		mode  corev1.PersistentVolumeAccessMode
		short string
	}{
		{corev1.ReadWriteOnce, "RWO"},
		{corev1.ReadOnlyMany, "ROX"},
		{corev1.ReadWriteMany, "RWX"},
		{corev1.ReadWriteOncePod, "RWOP"},
	} {
		if has[m.mode] {
			out = append(out, m.short)
		}
	}
	return strings.Join(out, ",")
}

func volumeMode(m *corev1.PersistentVolumeMode) string {
	if m == nil {
		return unset
	}
	return string(*m)
}

// optional prints an optional string field, <unset> when absent.
func optional(s *string) string {
	if s == nil {
		return unset
	}
	return *s
}
