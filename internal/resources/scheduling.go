package resources

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// User priority classes stay below the system ones, so nothing a user creates can
// preempt the pods that keep the cluster and its nodes running.
const (
	priorityHighestUser    = 1000000000
	prioritySystemPrefix   = "system-"
	prioritySystemCritical = 2 * priorityHighestUser
)

// prioritySystemClasses are the only classes allowed to use the reserved prefix.
var prioritySystemClasses = map[string]int32{
	"system-node-critical":    prioritySystemCritical + 1000,
	"system-cluster-critical": prioritySystemCritical,
}

var priorityPreemptionPolicies = []corev1.PreemptionPolicy{corev1.PreemptNever, corev1.PreemptLowerPriority}

func (priorityClassStrategy) Default(obj runtime.Object) {
	if pc, ok := obj.(*schedulingv1.PriorityClass); ok && pc.PreemptionPolicy == nil {
		pc.PreemptionPolicy = ptr.To(corev1.PreemptLowerPriority)
	}
}

func (priorityClassStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	pc, ok := obj.(*schedulingv1.PriorityClass)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	if strings.HasPrefix(pc.Name, prioritySystemPrefix) {
		if msg := prioritySystemClassProblem(pc); msg != "" {
			errs = append(errs, field.Forbidden(field.NewPath("metadata", "name"),
				"priority class names with '"+prioritySystemPrefix+"' prefix are reserved for system use only. error: "+msg))
		}
	} else if pc.Value > priorityHighestUser {
		errs = append(errs, field.Forbidden(field.NewPath("value"), fmt.Sprintf("maximum allowed value of a user defined priority is %v", priorityHighestUser)))
	}
	if p := pc.PreemptionPolicy; p != nil && !slices.Contains(priorityPreemptionPolicies, *p) {
		errs = append(errs, field.NotSupported(field.NewPath("preemptionPolicy"), *p, priorityPreemptionPolicies))
	}
	if oldPC, ok := old.(*schedulingv1.PriorityClass); ok {
		// Pods copy the value when admitted; changing it would leave them inconsistent.
		if pc.Value != oldPC.Value {
			errs = append(errs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
		}
		errs = append(errs, apivalidation.ValidateImmutableField(pc.PreemptionPolicy, oldPC.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	}
	return errs
}

func prioritySystemClassProblem(pc *schedulingv1.PriorityClass) string {
	value, known := prioritySystemClasses[pc.Name]
	switch {
	case !known:
		return fmt.Sprintf("%v is not a known system priority class", pc.Name)
	case pc.Value != value:
		return fmt.Sprintf("value of %v PriorityClass must be %v", pc.Name, value)
	case pc.GlobalDefault:
		return fmt.Sprintf("globalDefault of %v PriorityClass must be false", pc.Name)
	}
	return ""
}
