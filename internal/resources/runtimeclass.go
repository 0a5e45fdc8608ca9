package resources

import (
	nodev1 "k8s.io/api/node/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var nodeAPI = schema.GroupVersion{Group: "node.k8s.io", Version: "v1"}

// A RuntimeClass names the container runtime handler (a containerd runtime such as
// runc) its pods run with, their fixed overhead and where they may be scheduled.
// Admission copies the overhead and scheduling into each pod that names the class;
// the node agent passes the handler to the runtime.
type runtimeClassStrategy struct{ generic }

func (runtimeClassStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	rc, ok := obj.(*nodev1.RuntimeClass)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	hp := field.NewPath("handler")
	if rc.Handler == "" {
		errs = append(errs, field.Required(hp, ""))
	}
	for _, msg := range validation.IsDNS1123Label(rc.Handler) {
		if rc.Handler != "" {
			errs = append(errs, field.Invalid(hp, rc.Handler, msg))
		}
	}
	if o := rc.Overhead; o != nil {
		pp := field.NewPath("overhead", "podFixed")
		for name, q := range o.PodFixed {
			kp := pp.Key(string(name))
			errs = append(errs, validatePodResourceName(string(name), kp)...)
			if q.Sign() < 0 {
				errs = append(errs, field.Invalid(kp, q.String(), podNegativeMsg))
			}
		}
	}
	if s := rc.Scheduling; s != nil {
		sp := field.NewPath("scheduling")
		errs = append(errs, metav1validation.ValidateLabels(s.NodeSelector, sp.Child("nodeSelector"))...)
		errs = append(errs, validatePodTolerations(s.Tolerations, sp.Child("tolerations"))...)
	}
	if o, ok := old.(*nodev1.RuntimeClass); ok {
		// Running pods were started with the old handler; a new one would apply to
		// some of the class's pods and not others.
		errs = append(errs, apivalidation.ValidateImmutableField(rc.Handler, o.Handler, hp)...)
	}
	return errs
}
