package resources

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Namespaces carry the "kubernetes" finalizer so the namespace controller can empty
// them before they disappear. The finalizer is added in PrepareForCreate rather than
// Default: it is removed over the object's life through the finalize subresource, and
// a defaulter would put it straight back on that write.

func (namespaceStrategy) Default(obj runtime.Object) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return
	}
	namespaceSetNameLabel(ns)
}

func (namespaceStrategy) PrepareForCreate(obj runtime.Object) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return
	}
	ns.Status = corev1.NamespaceStatus{Phase: corev1.NamespaceActive}
	hasKube := false
	for _, f := range ns.Spec.Finalizers {
		if f == corev1.FinalizerKubernetes {
			hasKube = true
			break
		}
	}
	if !hasKube {
		ns.Spec.Finalizers = append(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
	}
	namespaceSetNameLabel(ns)
}

// PrepareForUpdate: the main resource cannot touch spec.finalizers (only the finalize
// subresource can), the status subresource only status, finalize only spec.finalizers.
func (namespaceStrategy) PrepareForUpdate(obj, old runtime.Object, subresource string) {
	ns, ok1 := obj.(*corev1.Namespace)
	oldNs, ok2 := old.(*corev1.Namespace)
	if !ok1 || !ok2 {
		return
	}
	switch subresource {
	case "status":
		ns.Spec = *oldNs.Spec.DeepCopy()
	case "finalize":
		finalizers := ns.Spec.Finalizers
		ns.Spec = *oldNs.Spec.DeepCopy()
		ns.Spec.Finalizers = finalizers
		ns.Status = *oldNs.Status.DeepCopy()
	default:
		ns.Spec.Finalizers = oldNs.Spec.Finalizers
		ns.Status = *oldNs.Status.DeepCopy()
	}
	namespaceSetNameLabel(ns)
}

func (namespaceStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.ValidateNamespaceName)
	finPath := field.NewPath("spec", "finalizers")
	for _, f := range ns.Spec.Finalizers {
		errs = append(errs, validateNamespaceFinalizerName(string(f), finPath)...)
	}
	// The phase must agree with deletionTimestamp, but only a status write can
	// change it; other writes carry the stored status and are not re-judged.
	if oldNs, ok := old.(*corev1.Namespace); ok && !reflect.DeepEqual(ns.Status, oldNs.Status) {
		phasePath := field.NewPath("status", "Phase")
		if ns.DeletionTimestamp.IsZero() {
			if ns.Status.Phase != corev1.NamespaceActive {
				errs = append(errs, field.Invalid(phasePath, ns.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty"))
			}
		} else if ns.Status.Phase != corev1.NamespaceTerminating {
			errs = append(errs, field.Invalid(phasePath, ns.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"))
		}
	}
	return errs
}

func (namespaceStrategy) Fields(obj runtime.Object) fields.Set {
	set := metaFields(obj)
	if ns, ok := obj.(*corev1.Namespace); ok {
		set["status.phase"] = string(ns.Status.Phase)
	}
	return set
}

// namespaceSetNameLabel keeps kubernetes.io/metadata.name equal to the name, so
// namespace selectors can pick a namespace by name. A generateName create has no
// name yet at Default time; PrepareForCreate runs again after naming.
func namespaceSetNameLabel(ns *corev1.Namespace) {
	if ns.Name == "" {
		return
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	ns.Labels[corev1.LabelMetadataName] = ns.Name
}

// validateNamespaceFinalizerName accepts "kubernetes" or any qualified name.
func validateNamespaceFinalizerName(name string, fldPath *field.Path) field.ErrorList {
	errs := apivalidation.ValidateFinalizerName(name, fldPath)
	if !strings.Contains(name, "/") && name != string(corev1.FinalizerKubernetes) {
		errs = append(errs, field.Invalid(fldPath, name, "name is neither a standard finalizer name nor is it fully qualified"))
	}
	return errs
}
