package quota

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
)

// storageClassSuffix names the per-class claim resources:
// <class>.storageclass.storage.k8s.io/requests.storage and .../persistentvolumeclaims.
const storageClassSuffix = ".storageclass.storage.k8s.io/"

func claimEvaluator(list Lister) *evaluator {
	return &evaluator{
		gr:   corev1.Resource("persistentvolumeclaims"),
		list: list,
		names: []corev1.ResourceName{"persistentvolumeclaims", "count/persistentvolumeclaims",
			corev1.ResourceRequestsStorage},
		more: func(n corev1.ResourceName) bool {
			_, what, ok := strings.Cut(string(n), storageClassSuffix)
			return ok && (what == "requests.storage" || what == "persistentvolumeclaims")
		},
		usage:   claimUsage,
		scope:   claimMatchesScope,
		updates: claimUpdates,
	}
}

// claimUpdates charges every update of a claim (it may grow, or name another volume
// attributes class) and the status writes that change what it is charged: an
// allocation larger than asked, a class being applied.
func claimUpdates(sub string, old, cur runtime.Object) bool {
	switch sub {
	case "":
		return true
	case "status":
		o, ok1 := old.(*corev1.PersistentVolumeClaim)
		n, ok2 := cur.(*corev1.PersistentVolumeClaim)
		return ok1 && ok2 && ClaimChargeChanged(o, n)
	}
	return false
}

// ClaimChargeChanged reports a status change of a claim that changes what it is
// charged or which quotas it falls under, for quota admission to charge and the quota
// controller to recount.
func ClaimChargeChanged(old, cur *corev1.PersistentVolumeClaim) bool {
	a, b := old.Status.AllocatedResources[corev1.ResourceStorage], cur.Status.AllocatedResources[corev1.ResourceStorage]
	return a.Cmp(b) != 0 || !attributesClasses(old).Equal(attributesClasses(cur))
}

// claimUsage counts the claim and its requested storage, overall and for its class.
func claimUsage(obj runtime.Object) (corev1.ResourceList, error) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil, fmt.Errorf("expected a PersistentVolumeClaim, got %T", obj)
	}
	one := *resource.NewQuantity(1, resource.DecimalSI)
	out := corev1.ResourceList{"persistentvolumeclaims": one, "count/persistentvolumeclaims": one}
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	if class != "" {
		out[corev1.ResourceName(class+storageClassSuffix+"persistentvolumeclaims")] = one
	}
	size, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if alloc, has := pvc.Status.AllocatedResources[corev1.ResourceStorage]; has && (!ok || alloc.Cmp(size) > 0) {
		size, ok = alloc, true
	}
	if ok {
		out[corev1.ResourceRequestsStorage] = size.DeepCopy()
		if class != "" {
			out[corev1.ResourceName(class+storageClassSuffix+"requests.storage")] = size.DeepCopy()
		}
	}
	return out, nil
}

// claimMatchesScope implements the one claim scope, VolumeAttributesClass. A claim
// falls under every class it names: the one it asks for (spec), the one its volume
// has (status.currentVolumeAttributesClassName) and the one being applied
// (status.modifyVolumeStatus), so that a change of class is charged to the new class
// as it is asked for and released from the old one only once it is done.
func claimMatchesScope(sel corev1.ScopedResourceSelectorRequirement, obj runtime.Object) (bool, error) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return false, fmt.Errorf("expected a PersistentVolumeClaim, got %T", obj)
	}
	if sel.ScopeName != corev1.ResourceQuotaScopeVolumeAttributesClass {
		return false, nil
	}
	return namedScopeMatches(sel, sets.List(attributesClasses(pvc))...)
}

// attributesClasses are the volume attributes classes a claim names.
func attributesClasses(pvc *corev1.PersistentVolumeClaim) sets.Set[string] {
	out := sets.New[string]()
	if n := pvc.Spec.VolumeAttributesClassName; n != nil && *n != "" {
		out.Insert(*n)
	}
	if n := pvc.Status.CurrentVolumeAttributesClassName; n != nil && *n != "" {
		out.Insert(*n)
	}
	if m := pvc.Status.ModifyVolumeStatus; m != nil && m.TargetVolumeAttributesClassName != "" {
		out.Insert(m.TargetVolumeAttributesClassName)
	}
	return out
}
