package resources

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

var (
	storageAccessModes     = []corev1.PersistentVolumeAccessMode{corev1.ReadOnlyMany, corev1.ReadWriteMany, corev1.ReadWriteOnce, corev1.ReadWriteOncePod}
	storageVolumeModes     = []corev1.PersistentVolumeMode{corev1.PersistentVolumeBlock, corev1.PersistentVolumeFilesystem}
	storagePVReclaim       = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRecycle, corev1.PersistentVolumeReclaimRetain}
	storageClassReclaim    = []corev1.PersistentVolumeReclaimPolicy{corev1.PersistentVolumeReclaimDelete, corev1.PersistentVolumeReclaimRetain}
	storageBindingModes    = []storagev1.VolumeBindingMode{storagev1.VolumeBindingImmediate, storagev1.VolumeBindingWaitForFirstConsumer}
	storageClassParamLimit = 512
	storageClassParamSize  = 256 * (1 << 10)
)

func (pvStrategy) Default(obj runtime.Object) {
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok {
		return
	}
	if pv.Spec.PersistentVolumeReclaimPolicy == "" {
		pv.Spec.PersistentVolumeReclaimPolicy = corev1.PersistentVolumeReclaimRetain
	}
	if pv.Spec.VolumeMode == nil {
		pv.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
	}
}

// PrepareForCreate starts every volume Pending; the binder moves it on.
func (pvStrategy) PrepareForCreate(obj runtime.Object) {
	if pv, ok := obj.(*corev1.PersistentVolume); ok {
		now := metav1.Now()
		pv.Status = corev1.PersistentVolumeStatus{Phase: corev1.VolumePending, LastPhaseTransitionTime: &now}
	}
}

// PrepareForUpdate stamps the phase transition time on status writes that change
// the phase without saying when.
func (s pvStrategy) PrepareForUpdate(obj, old runtime.Object, subresource string) {
	s.generic.PrepareForUpdate(obj, old, subresource)
	pv, ok1 := obj.(*corev1.PersistentVolume)
	oldPV, ok2 := old.(*corev1.PersistentVolume)
	if subresource != "status" || !ok1 || !ok2 {
		return
	}
	if pv.Status.Phase != oldPV.Status.Phase && equality.Semantic.DeepEqual(pv.Status.LastPhaseTransitionTime, oldPV.Status.LastPhaseTransitionTime) {
		now := metav1.Now()
		pv.Status.LastPhaseTransitionTime = &now
	}
}

func (pvStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	pv, ok := obj.(*corev1.PersistentVolume)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	spec := &pv.Spec
	sp := field.NewPath("spec")
	errs = append(errs, validateStorageAccessModes(spec.AccessModes, sp.Child("accessModes"), "")...)
	capPath := sp.Child("capacity")
	if len(spec.Capacity) == 0 {
		errs = append(errs, field.Required(capPath, ""))
	}
	if _, ok := spec.Capacity[corev1.ResourceStorage]; !ok || len(spec.Capacity) > 1 {
		errs = append(errs, field.NotSupported(capPath, spec.Capacity, []corev1.ResourceName{corev1.ResourceStorage}))
	}
	for name, q := range spec.Capacity {
		if q.Sign() <= 0 {
			errs = append(errs, field.Invalid(capPath.Key(string(name)), q.String(), "must be greater than zero"))
		}
	}
	if p := spec.PersistentVolumeReclaimPolicy; p != "" && !slices.Contains(storagePVReclaim, p) {
		errs = append(errs, field.NotSupported(sp.Child("persistentVolumeReclaimPolicy"), p, storagePVReclaim))
	}
	if spec.StorageClassName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(spec.StorageClassName) {
			errs = append(errs, field.Invalid(sp.Child("storageClassName"), spec.StorageClassName, msg))
		}
	}
	errs = append(errs, validateStorageVolumeMode(spec.VolumeMode, sp.Child("volumeMode"))...)
	errs = append(errs, validatePVSource(spec, sp)...)
	if na := spec.NodeAffinity; na != nil && na.Required == nil {
		errs = append(errs, field.Required(sp.Child("nodeAffinity", "required"), "must specify required node constraints"))
	} else if na != nil && len(na.Required.NodeSelectorTerms) == 0 {
		errs = append(errs, field.Required(sp.Child("nodeAffinity", "required", "nodeSelectorTerms"), "must have at least one node selector term"))
	}
	oldPV, _ := old.(*corev1.PersistentVolume)
	errs = append(errs, validateVolumeVAC(pv, oldPV)...)
	if oldPV != nil {
		// The data lives where the source says; pointing the object elsewhere
		// would silently hand a claim someone else's disk.
		if !equality.Semantic.DeepEqual(spec.PersistentVolumeSource, oldPV.Spec.PersistentVolumeSource) {
			errs = append(errs, field.Forbidden(sp.Child("persistentvolumesource"), "spec.persistentvolumesource is immutable after creation"))
		}
		errs = append(errs, apivalidation.ValidateImmutableField(spec.VolumeMode, oldPV.Spec.VolumeMode, sp.Child("volumeMode"))...)
		if oldPV.Spec.NodeAffinity != nil {
			errs = append(errs, apivalidation.ValidateImmutableField(spec.NodeAffinity, oldPV.Spec.NodeAffinity, sp.Child("nodeAffinity"))...)
		}
	}
	return errs
}

// validatePVSource requires exactly one volume source, and the fields each of the
// sources skiff can mount needs.
func validatePVSource(spec *corev1.PersistentVolumeSpec, sp *field.Path) field.ErrorList {
	var errs field.ErrorList
	src := reflect.ValueOf(spec.PersistentVolumeSource)
	count := 0
	for i := 0; i < src.NumField(); i++ {
		if src.Field(i).IsNil() {
			continue
		}
		count++
		if count > 1 {
			name := strings.Split(src.Type().Field(i).Tag.Get("json"), ",")[0]
			errs = append(errs, field.Forbidden(sp.Child(name), "may not specify more than 1 volume type"))
		}
	}
	if count == 0 {
		errs = append(errs, field.Required(sp, "must specify a volume type"))
	}
	if hp := spec.HostPath; hp != nil {
		errs = append(errs, validateStorageLocalPath(hp.Path, sp.Child("hostPath", "path"))...)
	}
	if l := spec.Local; l != nil {
		errs = append(errs, validateStorageLocalPath(l.Path, sp.Child("local", "path"))...)
		if spec.NodeAffinity == nil {
			errs = append(errs, field.Required(sp.Child("nodeAffinity"), "Local volume requires node affinity"))
		}
	}
	if nfs := spec.NFS; nfs != nil {
		if nfs.Server == "" {
			errs = append(errs, field.Required(sp.Child("nfs", "server"), ""))
		}
		if nfs.Path == "" {
			errs = append(errs, field.Required(sp.Child("nfs", "path"), ""))
		} else if !strings.HasPrefix(nfs.Path, "/") {
			errs = append(errs, field.Invalid(sp.Child("nfs", "path"), nfs.Path, "must be an absolute path"))
		}
	}
	if csi := spec.CSI; csi != nil {
		if csi.Driver == "" {
			errs = append(errs, field.Required(sp.Child("csi", "driver"), ""))
		}
		if csi.VolumeHandle == "" {
			errs = append(errs, field.Required(sp.Child("csi", "volumeHandle"), ""))
		}
	}
	return errs
}

func validateStorageLocalPath(path string, p *field.Path) field.ErrorList {
	if path == "" {
		return field.ErrorList{field.Required(p, "")}
	}
	for _, part := range strings.Split(path, "/") {
		if part == ".." {
			return field.ErrorList{field.Invalid(p, path, "must not contain '..'")}
		}
	}
	return nil
}

func validateStorageAccessModes(modes []corev1.PersistentVolumeAccessMode, p *field.Path, requiredMsg string) field.ErrorList {
	var errs field.ErrorList
	if len(modes) == 0 {
		errs = append(errs, field.Required(p, requiredMsg))
	}
	for _, m := range modes {
		if !slices.Contains(storageAccessModes, m) {
			errs = append(errs, field.NotSupported(p, m, storageAccessModes))
		}
	}
	// ReadWriteOncePod promises a single pod; any other mode would widen it.
	if slices.Contains(modes, corev1.ReadWriteOncePod) && len(modes) > 1 {
		errs = append(errs, field.Forbidden(p, "may not use ReadWriteOncePod with other access modes"))
	}
	return errs
}

func validateStorageVolumeMode(m *corev1.PersistentVolumeMode, p *field.Path) field.ErrorList {
	if m != nil && !slices.Contains(storageVolumeModes, *m) {
		return field.ErrorList{field.NotSupported(p, *m, storageVolumeModes)}
	}
	return nil
}

func (pvcStrategy) Default(obj runtime.Object) {
	if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok && pvc.Spec.VolumeMode == nil {
		pvc.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeFilesystem)
	}
}

func (pvcStrategy) PrepareForCreate(obj runtime.Object) {
	if pvc, ok := obj.(*corev1.PersistentVolumeClaim); ok {
		pvc.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimPending}
	}
}

func (pvcStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	spec := &pvc.Spec
	sp := field.NewPath("spec")
	errs = append(errs, validateStorageAccessModes(spec.AccessModes, sp.Child("accessModes"), "at least 1 access mode is required")...)
	if spec.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(spec.Selector, metav1validation.LabelSelectorValidationOptions{}, sp.Child("selector"))...)
	}
	storagePath := sp.Child("resources").Key(string(corev1.ResourceStorage))
	if q, ok := spec.Resources.Requests[corev1.ResourceStorage]; !ok {
		errs = append(errs, field.Required(storagePath, ""))
	} else if q.Sign() <= 0 {
		errs = append(errs, field.Invalid(storagePath, q.String(), "must be greater than zero"))
	}
	if spec.StorageClassName != nil && *spec.StorageClassName != "" {
		for _, msg := range validation.IsDNS1123Subdomain(*spec.StorageClassName) {
			errs = append(errs, field.Invalid(sp.Child("storageClassName"), *spec.StorageClassName, msg))
		}
	}
	errs = append(errs, validateStorageVolumeMode(spec.VolumeMode, sp.Child("volumeMode"))...)
	oldPVC, _ := old.(*corev1.PersistentVolumeClaim)
	errs = append(errs, validateClaimVAC(pvc, oldPVC)...)
	if oldPVC != nil {
		errs = append(errs, validatePVCUpdate(pvc, oldPVC)...)
	}
	return errs
}

// validatePVCUpdate: a claim's spec is fixed once written (quota and limit ranges
// were judged against it), except that the binder fills volumeName once and a bound
// claim may ask for more storage (volume expansion).
func validatePVCUpdate(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	var errs field.ErrorList
	newSpec, oldSpec := pvc.Spec.DeepCopy(), old.Spec.DeepCopy()
	if oldSpec.VolumeName == "" {
		oldSpec.VolumeName = newSpec.VolumeName
	}
	// A claim written before default storage classes existed may take one later.
	if oldSpec.StorageClassName == nil && newSpec.StorageClassName != nil {
		oldSpec.StorageClassName = newSpec.StorageClassName
	}
	if pvc.Status.Phase == corev1.ClaimBound && newSpec.Resources.Requests != nil {
		if q, ok := oldSpec.Resources.Requests[corev1.ResourceStorage]; ok {
			newSpec.Resources.Requests[corev1.ResourceStorage] = q
		}
	}
	if pvc.Status.Phase == corev1.ClaimBound {
		// A bound claim's class is what its volume should become (ControllerModifyVolume).
		newSpec.VolumeAttributesClassName = oldSpec.VolumeAttributesClassName
	}
	if !equality.Semantic.DeepEqual(newSpec, oldSpec) {
		diff := cmp.Diff(oldSpec, newSpec)
		errs = append(errs, field.Forbidden(field.NewPath("spec"),
			fmt.Sprintf("spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n%v", diff)))
	}
	newSize := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	oldSize := old.Spec.Resources.Requests[corev1.ResourceStorage]
	if newSize.Cmp(oldSize) < 0 {
		// Shrinking back towards what was actually provisioned lets a user recover
		// from a failed expansion; going below it never works.
		statusSize := old.Status.Capacity[corev1.ResourceStorage]
		if newSize.Cmp(statusSize) <= 0 {
			errs = append(errs, field.Forbidden(field.NewPath("spec", "resources", "requests", "storage"), "field can not be less than status.capacity"))
		}
	}
	errs = append(errs, apivalidation.ValidateImmutableField(pvc.Spec.VolumeMode, old.Spec.VolumeMode, field.NewPath("volumeMode"))...)
	return errs
}

func (storageClassStrategy) Default(obj runtime.Object) {
	sc, ok := obj.(*storagev1.StorageClass)
	if !ok {
		return
	}
	if sc.ReclaimPolicy == nil {
		sc.ReclaimPolicy = ptr.To(corev1.PersistentVolumeReclaimDelete)
	}
	if sc.VolumeBindingMode == nil {
		sc.VolumeBindingMode = ptr.To(storagev1.VolumeBindingImmediate)
	}
}

// validateDriverName checks a CSI driver's name where a class names one: required,
// and a qualified name in lower case.
func validateDriverName(name string, path *field.Path) field.ErrorList {
	if name == "" {
		return field.ErrorList{field.Required(path, "")}
	}
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(strings.ToLower(name)) {
		errs = append(errs, field.Invalid(path, name, msg))
	}
	return errs
}

func (storageClassStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	sc, ok := obj.(*storagev1.StorageClass)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	pp := field.NewPath("provisioner")
	errs = append(errs, validateDriverName(sc.Provisioner, pp)...)
	paramPath := field.NewPath("parameters")
	errs = append(errs, validateDriverParameters(sc.Parameters, paramPath)...)
	if p := sc.ReclaimPolicy; p != nil && !slices.Contains(storageClassReclaim, *p) {
		errs = append(errs, field.NotSupported(field.NewPath("reclaimPolicy"), *p, storageClassReclaim))
	}
	bm := field.NewPath("volumeBindingMode")
	if sc.VolumeBindingMode == nil {
		errs = append(errs, field.Required(bm, ""))
	} else if !slices.Contains(storageBindingModes, *sc.VolumeBindingMode) {
		errs = append(errs, field.NotSupported(bm, *sc.VolumeBindingMode, storageBindingModes))
	}
	oldSC, ok := old.(*storagev1.StorageClass)
	if !ok {
		return errs
	}
	// Volumes already provisioned from the class were made with these settings;
	// changing them would make the class lie about its volumes.
	if !configSameStrings(sc.Parameters, oldSC.Parameters) {
		errs = append(errs, field.Forbidden(paramPath, "updates to parameters are forbidden."))
	}
	if sc.Provisioner != oldSC.Provisioner {
		errs = append(errs, field.Forbidden(pp, "updates to provisioner are forbidden."))
	}
	if !ptr.Equal(sc.ReclaimPolicy, oldSC.ReclaimPolicy) {
		errs = append(errs, field.Forbidden(field.NewPath("reclaimPolicy"), "updates to reclaimPolicy are forbidden."))
	}
	errs = append(errs, apivalidation.ValidateImmutableField(sc.VolumeBindingMode, oldSC.VolumeBindingMode, bm)...)
	return errs
}
