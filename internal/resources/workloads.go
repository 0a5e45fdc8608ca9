package resources

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Rules shared by the controllers that keep a set of pods from a template, and the
// ReplicaSet, ReplicationController and ControllerRevision kinds. Deployment,
// StatefulSet, DaemonSet, Job and CronJob have their own files.

const workloadSelectorMismatch = "`selector` does not match template `labels`"

// validateWorkloadSelector checks a required label selector and that the template's
// labels match it: a controller must own the pods it creates, or it would create them
// forever. what names the kind in the "empty selector" message.
func validateWorkloadSelector(sel *metav1.LabelSelector, tmpl *corev1.PodTemplateSpec, p *field.Path, what string) field.ErrorList {
	sp := p.Child("selector")
	if sel == nil {
		return field.ErrorList{field.Required(sp, "")}
	}
	errs := metav1validation.ValidateLabelSelector(sel, metav1validation.LabelSelectorValidationOptions{}, sp)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		errs = append(errs, field.Invalid(sp, sel, "empty selector is invalid for "+what))
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return append(errs, field.Invalid(sp, sel, "invalid label selector"))
	}
	if !s.Empty() && !s.Matches(labels.Set(tmpl.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), tmpl.Labels, workloadSelectorMismatch))
	}
	return errs
}

// validateWorkloadTemplate checks the template of a controller whose pods run forever
// (everything but Job): they must restart, and have no deadline.
func validateWorkloadTemplate(tmpl *corev1.PodTemplateSpec, p *field.Path, kind string) field.ErrorList {
	errs := validatePodTemplateSpec(tmpl, p)
	if rp := tmpl.Spec.RestartPolicy; rp != "" && rp != corev1.RestartPolicyAlways {
		errs = append(errs, field.NotSupported(p.Child("spec", "restartPolicy"), rp, []string{string(corev1.RestartPolicyAlways)}))
	}
	if tmpl.Spec.ActiveDeadlineSeconds != nil {
		errs = append(errs, field.Forbidden(p.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in "+kind+" is not Supported"))
	}
	return errs
}

// validateWorkloadCount checks an optional count that may not be negative.
func validateWorkloadCount[T int32 | int64](v *T, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	return apivalidation.ValidateNonnegativeField(int64(*v), p)
}

// validateWorkloadIntOrPercent checks maxSurge/maxUnavailable-style values.
func validateWorkloadIntOrPercent(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	if v == nil {
		return nil
	}
	var errs field.ErrorList
	switch v.Type {
	case intstr.String:
		for _, msg := range validation.IsValidPercent(v.StrVal) {
			errs = append(errs, field.Invalid(p, *v, msg))
		}
	case intstr.Int:
		errs = append(errs, apivalidation.ValidateNonnegativeField(int64(v.IntValue()), p)...)
	default:
		errs = append(errs, field.Invalid(p, *v, "must be an integer or percentage (e.g '5%')"))
	}
	return errs
}

// validateWorkloadAtMost100 checks a maxUnavailable: more than all pods unavailable
// is meaningless.
func validateWorkloadAtMost100(v *intstr.IntOrString, p *field.Path) field.ErrorList {
	if v == nil || v.Type != intstr.String {
		return nil
	}
	if n, err := strconv.Atoi(v.StrVal[:max(len(v.StrVal)-1, 0)]); err == nil && n > 100 {
		return field.ErrorList{field.Invalid(p, *v, "must not be greater than 100%")}
	}
	return nil
}

// workloadIsZero reports whether an int-or-percent is 0 or 0%.
func workloadIsZero(v *intstr.IntOrString) bool {
	if v == nil {
		return true
	}
	if v.Type == intstr.String {
		n, err := strconv.Atoi(v.StrVal[:max(len(v.StrVal)-1, 0)])
		return err == nil && n == 0
	}
	return v.IntVal == 0
}

// validateWorkloadSelectorUpdate: in apps/v1 a selector is fixed for life; changing
// it would orphan the pods the old one matched.
func validateWorkloadSelectorUpdate(sel, old *metav1.LabelSelector) field.ErrorList {
	return apivalidation.ValidateImmutableField(sel, old, field.NewPath("spec", "selector"))
}

// workloadReplicaFields adds status.replicas, which kubectl and controllers select on.
func workloadReplicaFields(obj runtime.Object, replicas int32) fields.Set {
	set := metaFields(obj)
	set["status.replicas"] = strconv.Itoa(int(replicas))
	return set
}

func (replicaSetStrategy) Default(obj runtime.Object) {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return
	}
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = podPtr(int32(1))
	}
	defaultPodTemplateSpec(&rs.Spec.Template)
}

func (replicaSetStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	rs, ok := obj.(*appsv1.ReplicaSet)
	if !ok {
		return nil
	}
	sp := field.NewPath("spec")
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateWorkloadCount(rs.Spec.Replicas, sp.Child("replicas"))...)
	errs = append(errs, validateWorkloadCount(&rs.Spec.MinReadySeconds, sp.Child("minReadySeconds"))...)
	// Kubernetes names deployments here too; kept so messages match.
	errs = append(errs, validateWorkloadSelector(rs.Spec.Selector, &rs.Spec.Template, sp, "deployment")...)
	errs = append(errs, validateWorkloadTemplate(&rs.Spec.Template, sp.Child("template"), "ReplicaSet")...)
	if o, ok := old.(*appsv1.ReplicaSet); ok {
		errs = append(errs, validateWorkloadSelectorUpdate(rs.Spec.Selector, o.Spec.Selector)...)
	}
	return errs
}

func (replicaSetStrategy) Fields(obj runtime.Object) fields.Set {
	if rs, ok := obj.(*appsv1.ReplicaSet); ok {
		return workloadReplicaFields(obj, rs.Status.Replicas)
	}
	return metaFields(obj)
}

// Default for the core/v1 ReplicationController, whose selector is a plain map that
// defaults to the template's labels, as do the controller's own labels.
func (rcStrategy) Default(obj runtime.Object) {
	rc, ok := obj.(*corev1.ReplicationController)
	if !ok {
		return
	}
	if t := rc.Spec.Template; t != nil && t.Labels != nil {
		if len(rc.Spec.Selector) == 0 {
			rc.Spec.Selector = t.Labels
		}
		if len(rc.Labels) == 0 {
			rc.Labels = t.Labels
		}
	}
	if rc.Spec.Replicas == nil {
		rc.Spec.Replicas = podPtr(int32(1))
	}
	defaultPodTemplateSpec(rc.Spec.Template)
}

func (rcStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	rc, ok := obj.(*corev1.ReplicationController)
	if !ok {
		return nil
	}
	sp := field.NewPath("spec")
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateWorkloadCount(rc.Spec.Replicas, sp.Child("replicas"))...)
	errs = append(errs, validateWorkloadCount(&rc.Spec.MinReadySeconds, sp.Child("minReadySeconds"))...)
	if len(rc.Spec.Selector) == 0 {
		errs = append(errs, field.Required(sp.Child("selector"), ""))
	}
	errs = append(errs, metav1validation.ValidateLabels(rc.Spec.Selector, sp.Child("selector"))...)
	if rc.Spec.Template == nil {
		return append(errs, field.Required(sp.Child("template"), ""))
	}
	if sel := labels.SelectorFromSet(rc.Spec.Selector); !sel.Empty() && !sel.Matches(labels.Set(rc.Spec.Template.Labels)) {
		errs = append(errs, field.Invalid(sp.Child("template", "metadata", "labels"), rc.Spec.Template.Labels, workloadSelectorMismatch))
	}
	return append(errs, validateWorkloadTemplate(rc.Spec.Template, sp.Child("template"), "ReplicationController")...)
}

func (rcStrategy) Fields(obj runtime.Object) fields.Set {
	if rc, ok := obj.(*corev1.ReplicationController); ok {
		return workloadReplicaFields(obj, rc.Status.Replicas)
	}
	return metaFields(obj)
}

// ControllerRevisions are snapshots: the data is what a rollback restores, so it may
// never change.
func (controllerRevisionStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	cr, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	if cr.Data.Raw == nil && cr.Data.Object == nil {
		errs = append(errs, field.Required(field.NewPath("data"), "data is mandatory"))
	}
	errs = append(errs, apivalidation.ValidateNonnegativeField(cr.Revision, field.NewPath("revision"))...)
	if o, ok := old.(*appsv1.ControllerRevision); ok {
		errs = append(errs, apivalidation.ValidateImmutableField(cr.Data, o.Data, field.NewPath("data"))...)
	}
	return errs
}
