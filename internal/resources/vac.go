package resources

import (
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// VACProtectionFinalizer keeps a VolumeAttributesClass while a claim or volume
// names it; the vac-protection controller removes it once none does.
const VACProtectionFinalizer = "kubernetes.io/vac-protection"

// vacStrategy: a VolumeAttributesClass is a driver and the mutable parameters it
// applies to volumes. Both are fixed once written, since volumes already carry
// them; a new set of attributes is a new class.
type vacStrategy struct{ generic }

// PrepareForCreate puts the protection finalizer on every new class, as
// Kubernetes' StorageObjectInUseProtection admission does, so that a class a claim
// takes a moment after it was made cannot be deleted before the controller sees it.
func (vacStrategy) PrepareForCreate(obj runtime.Object) {
	if vac, ok := obj.(*storagev1.VolumeAttributesClass); ok && !slices.Contains(vac.Finalizers, VACProtectionFinalizer) {
		vac.Finalizers = append(vac.Finalizers, VACProtectionFinalizer)
	}
}

func (vacStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	vac, ok := obj.(*storagev1.VolumeAttributesClass)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	dp := field.NewPath("driverName")
	errs = append(errs, validateDriverName(vac.DriverName, dp)...)
	pp := field.NewPath("parameters")
	errs = append(errs, validateDriverParameters(vac.Parameters, pp)...)
	if len(vac.Parameters) == 0 {
		errs = append(errs, field.Required(pp, "must contain at least one key/value pair"))
	}
	if oldVAC, ok := old.(*storagev1.VolumeAttributesClass); ok {
		if vac.DriverName != oldVAC.DriverName {
			errs = append(errs, field.Forbidden(dp, "updates to driverName are forbidden."))
		}
		if !maps.Equal(vac.Parameters, oldVAC.Parameters) {
			errs = append(errs, field.Forbidden(pp, "updates to parameters are forbidden."))
		}
	}
	return errs
}

// validateDriverParameters holds a class's parameters to the limits Kubernetes
// sets for StorageClass and VolumeAttributesClass alike.
func validateDriverParameters(params map[string]string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(params) > storageClassParamLimit {
		return field.ErrorList{field.TooLong(p, "Provisioner Parameters exceeded max allowed", storageClassParamLimit)}
	}
	size := 0
	for k, v := range params {
		if k == "" {
			errs = append(errs, field.Invalid(p, k, "field can not be empty."))
		}
		size += len(k) + len(v)
	}
	if size > storageClassParamSize {
		errs = append(errs, field.TooLong(p, "", storageClassParamSize))
	}
	return errs
}

// validateClassName checks a volumeAttributesClassName reference.
func validateClassName(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// validateClaimVAC: a claim may name a class (a valid name, or "" for none). Once
// a class was applied to its volume (status.currentVolumeAttributesClassName),
// the claim may move to another class but not back to none: the volume keeps
// attributes no class would describe.
func validateClaimVAC(pvc, old *corev1.PersistentVolumeClaim) field.ErrorList {
	p := field.NewPath("spec", "volumeAttributesClassName")
	var errs field.ErrorList
	if name := pvc.Spec.VolumeAttributesClassName; name != nil && *name != "" {
		errs = append(errs, validateClassName(*name, p)...)
	}
	if old == nil || old.Status.CurrentVolumeAttributesClassName == nil || ptr.Equal(pvc.Spec.VolumeAttributesClassName, old.Spec.VolumeAttributesClassName) {
		return errs
	}
	switch name := pvc.Spec.VolumeAttributesClassName; {
	case name == nil:
		errs = append(errs, field.Forbidden(p, "update to nil is forbidden when status.currentVolumeAttributesClassName is not nil"))
	case *name == "":
		errs = append(errs, field.Forbidden(p, "update to empty string is forbidden when status.currentVolumeAttributesClassName is not nil"))
	}
	return errs
}

// validateVolumeVAC: a volume's class must be a valid name, only on a CSI
// volume (only CSI drivers modify volumes), and cannot be removed once set.
func validateVolumeVAC(pv, old *corev1.PersistentVolume) field.ErrorList {
	sp := field.NewPath("spec")
	p := sp.Child("volumeAttributesClassName")
	var errs field.ErrorList
	if name := pv.Spec.VolumeAttributesClassName; name != nil {
		if *name == "" {
			errs = append(errs, field.Required(p, "an empty string is disallowed"))
		} else {
			errs = append(errs, validateClassName(*name, p)...)
		}
		if pv.Spec.CSI == nil {
			errs = append(errs, field.Required(sp.Child("csi"), "has to be specified when using volumeAttributesClassName"))
		}
	}
	if old != nil && old.Spec.VolumeAttributesClassName != nil && pv.Spec.VolumeAttributesClassName == nil {
		errs = append(errs, field.Forbidden(p, "update from non-nil value to nil is forbidden"))
	}
	return errs
}
