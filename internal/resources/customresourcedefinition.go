package resources

import (
	"context"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsinstall "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/install"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	crdvalidation "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// CRDCleanupFinalizer holds a CustomResourceDefinition until its objects are gone.
const CRDCleanupFinalizer = "customresourcecleanup.apiextensions.k8s.io"

var apiextensionsGV = schema.GroupVersion{Group: "apiextensions.k8s.io", Version: "v1"}

// crdInternal converts CRDs to the internal version the library validates.
var crdInternal = func() *runtime.Scheme {
	s := runtime.NewScheme()
	apiextensionsinstall.Install(s)
	return s
}()

type crdStrategy struct{ generic }

// PrepareForCreate clears the status but for the storage version, and adds the finalizer that deletes the
// CRD's objects before the CRD itself goes, as Kubernetes does.
func (crdStrategy) PrepareForCreate(obj runtime.Object) {
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok {
		return
	}
	// Established starts False (Installing) rather than absent: `kubectl wait --for
	// condition=established` right after a create reads null conditions as an error.
	crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{Conditions: []apiextensionsv1.CustomResourceDefinitionCondition{{
		Type: apiextensionsv1.Established, Status: apiextensionsv1.ConditionFalse, Reason: "Installing",
		Message: "the names are being checked", LastTransitionTime: metav1.Now()}}}
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			crd.Status.StoredVersions = []string{v.Name}
		}
	}
	if crd.DeletionTimestamp == nil {
		crd.Finalizers = withString(crd.Finalizers, CRDCleanupFinalizer)
	}
}

// PrepareForUpdate keeps the status as generic does, and records a new storage
// version in status.storedVersions, as Kubernetes does: objects written from now on
// are stored in it, and a migration reads that list to know what remains.
func (s crdStrategy) PrepareForUpdate(obj, old runtime.Object, subresource string) {
	s.generic.PrepareForUpdate(obj, old, subresource)
	crd, ok := obj.(*apiextensionsv1.CustomResourceDefinition)
	if !ok || subresource == "status" {
		return
	}
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			crd.Status.StoredVersions = withString(crd.Status.StoredVersions, v.Name)
		}
	}
}

func withString(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// Validate runs the library's CRD validation on the internal version: structural
// schema, names, versions, one storage version, CEL rules and their cost.
func (crdStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	crd, err := toInternalCRD(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	if old == nil {
		return crdvalidation.ValidateCustomResourceDefinition(context.Background(), crd)
	}
	oldCRD, err := toInternalCRD(old)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return crdvalidation.ValidateCustomResourceDefinitionUpdate(context.Background(), crd, oldCRD)
}

func toInternalCRD(obj runtime.Object) (*apiextensionsinternal.CustomResourceDefinition, error) {
	out := &apiextensionsinternal.CustomResourceDefinition{}
	if err := crdInternal.Convert(obj, out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// Default fills what Kubernetes' CRD defaulters fill (conversion strategy "None",
// list types of printer columns...).
func (crdStrategy) Default(obj runtime.Object) { Scheme.Default(obj) }
