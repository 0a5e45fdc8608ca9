package resources

import (
	"reflect"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	resourcev1 "k8s.io/api/resource/v1"
	storagev1 "k8s.io/api/storage/v1"
	storagemigrationv1 "k8s.io/api/storagemigration/v1"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// generic is the behaviour every kind starts from. Kind files override methods by
// declaring them on their own strategy type, which embeds generic.
type generic struct{}

func (generic) Default(runtime.Object) {}

// PrepareForCreate drops any status the client sent: status is written by controllers
// through the status subresource.
func (generic) PrepareForCreate(obj runtime.Object) { setField(obj, "Status", reflect.Value{}) }

// PrepareForUpdate implements the spec/status split.
func (generic) PrepareForUpdate(obj, old runtime.Object, subresource string) {
	oldStatus := field0(old, "Status")
	if !oldStatus.IsValid() {
		return
	}
	if subresource == "status" {
		newStatus := field0(obj, "Status")
		keepAllBut(obj, old, "Status")
		setField(obj, "Status", newStatus)
		if statusKeepsMeta(obj) {
			resetMetaForStatus(obj, old)
		}
		return
	}
	setField(obj, "Status", oldStatus)
}

// statusKeepsMeta names the kinds whose status writes may not change labels,
// annotations, finalizers or owner references, as in Kubernetes; for every other
// kind a status write may change them (clients patch an annotation with a status).
func statusKeepsMeta(obj runtime.Object) bool {
	switch obj.(type) {
	case *corev1.Pod, *admissionregistrationv1.ValidatingAdmissionPolicy, *networkingv1.ServiceCIDR,
		*storagev1.CSINode, *storagev1.VolumeAttachment, *resourcev1.ResourceClaim, *resourcev1.DeviceTaintRule,
		*storagemigrationv1.StorageVersionMigration, *flowcontrolv1.FlowSchema, *flowcontrolv1.PriorityLevelConfiguration:
		return true
	}
	return false
}

// Validate checks metadata only; kinds add their own rules.
func (generic) Validate(obj, old runtime.Object) field.ErrorList {
	return validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
}

func (generic) Fields(obj runtime.Object) fields.Set { return metaFields(obj) }

// validateMeta checks metadata with the given name rule, on create and update.
func validateMeta(obj, old runtime.Object, nameFn apivalidation.ValidateNameFunc) field.ErrorList {
	m, err := meta.Accessor(obj)
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("metadata"), err)}
	}
	namespaced := m.GetNamespace() != ""
	objMeta := metaOf(obj)
	errs := apivalidation.ValidateObjectMeta(objMeta, namespaced, nameFn, field.NewPath("metadata"))
	if old != nil {
		errs = append(errs, apivalidation.ValidateObjectMetaUpdate(objMeta, metaOf(old), field.NewPath("metadata"))...)
	}
	return errs
}

func metaOf(obj runtime.Object) *metav1.ObjectMeta {
	v := field0(obj, "ObjectMeta")
	if !v.IsValid() {
		return &metav1.ObjectMeta{}
	}
	return v.Addr().Interface().(*metav1.ObjectMeta)
}

// metaFields are the field-selector values every kind supports.
func metaFields(obj runtime.Object) fields.Set {
	m, err := meta.Accessor(obj)
	if err != nil {
		return fields.Set{}
	}
	return fields.Set{"metadata.name": m.GetName(), "metadata.namespace": m.GetNamespace()}
}

func resetMetaForStatus(obj, old runtime.Object) {
	m, err1 := meta.Accessor(obj)
	o, err2 := meta.Accessor(old)
	if err1 != nil || err2 != nil {
		return
	}
	metav1.ResetObjectMetaForStatus(m, o)
}

// field0 returns the named top-level struct field of obj, or an invalid Value.
func field0(obj runtime.Object, name string) reflect.Value {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return reflect.Value{}
	}
	v = v.Elem()
	if v.Kind() != reflect.Struct {
		return reflect.Value{}
	}
	return v.FieldByName(name)
}

// setField sets a top-level field (to its zero value when val is invalid).
func setField(obj runtime.Object, name string, val reflect.Value) {
	f := field0(obj, name)
	if !f.IsValid() || !f.CanSet() {
		return
	}
	if !val.IsValid() {
		f.Set(reflect.Zero(f.Type()))
		return
	}
	f.Set(val)
}

// keepAllBut copies every top-level field except TypeMeta, ObjectMeta and except from
// old into obj.
func keepAllBut(obj, old runtime.Object, except string) {
	dst, src := reflect.ValueOf(obj).Elem(), reflect.ValueOf(old).Elem()
	for i := 0; i < dst.NumField(); i++ {
		name := dst.Type().Field(i).Name
		if name == except || name == "TypeMeta" || name == "ObjectMeta" {
			continue
		}
		dst.Field(i).Set(src.Field(i))
	}
}

// Per-kind strategies. Each kind's file may declare methods on its type to replace the
// generic behaviour.
type (
	namespaceStrategy          struct{ generic }
	podStrategy                struct{ generic }
	serviceStrategy            struct{ generic }
	endpointsStrategy          struct{ generic }
	configMapStrategy          struct{ generic }
	secretStrategy             struct{ generic }
	serviceAccountStrategy     struct{ generic }
	nodeStrategy               struct{ generic }
	eventStrategy              struct{ generic }
	pvStrategy                 struct{ generic }
	pvcStrategy                struct{ generic }
	rcStrategy                 struct{ generic }
	resourceQuotaStrategy      struct{ generic }
	limitRangeStrategy         struct{ generic }
	podTemplateStrategy        struct{ generic }
	deploymentStrategy         struct{ generic }
	replicaSetStrategy         struct{ generic }
	statefulSetStrategy        struct{ generic }
	daemonSetStrategy          struct{ generic }
	controllerRevisionStrategy struct{ generic }
	jobStrategy                struct{ generic }
	cronJobStrategy            struct{ generic }
	hpaStrategy                struct{ generic }
	pdbStrategy                struct{ generic }
	ingressStrategy            struct{ generic }
	ingressClassStrategy       struct{ generic }
	networkPolicyStrategy      struct{ generic }
	roleStrategy               struct{ generic }
	clusterRoleStrategy        struct{ generic }
	roleBindingStrategy        struct{ generic }
	clusterRoleBindingStrategy struct{ generic }
	storageClassStrategy       struct{ generic }
	priorityClassStrategy      struct{ generic }
	leaseStrategy              struct{ generic }
	endpointSliceStrategy      struct{ generic }
)
