package resources

import (
	appsv1 "k8s.io/api/apps/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func (deploymentStrategy) Default(obj runtime.Object) {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return
	}
	if d.Spec.Replicas == nil {
		d.Spec.Replicas = podPtr(int32(1))
	}
	st := &d.Spec.Strategy
	if st.Type == "" {
		st.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if st.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if st.RollingUpdate == nil {
			st.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if st.RollingUpdate.MaxUnavailable == nil {
			st.RollingUpdate.MaxUnavailable = podIntOrStringPtr(intstr.FromString("25%"))
		}
		if st.RollingUpdate.MaxSurge == nil {
			st.RollingUpdate.MaxSurge = podIntOrStringPtr(intstr.FromString("25%"))
		}
	}
	if d.Spec.RevisionHistoryLimit == nil {
		d.Spec.RevisionHistoryLimit = podPtr(int32(10))
	}
	if d.Spec.ProgressDeadlineSeconds == nil {
		d.Spec.ProgressDeadlineSeconds = podPtr(int32(600))
	}
	defaultPodTemplateSpec(&d.Spec.Template)
}

func (deploymentStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return nil
	}
	sp := field.NewPath("spec")
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateWorkloadCount(d.Spec.Replicas, sp.Child("replicas"))...)
	errs = append(errs, validateWorkloadSelector(d.Spec.Selector, &d.Spec.Template, sp, "deployment")...)
	// A Deployment's template is a ReplicaSet's template, and Kubernetes says so.
	errs = append(errs, validateWorkloadTemplate(&d.Spec.Template, sp.Child("template"), "ReplicaSet")...)
	errs = append(errs, validateDeploymentStrategy(&d.Spec.Strategy, sp.Child("strategy"))...)
	errs = append(errs, validateWorkloadCount(&d.Spec.MinReadySeconds, sp.Child("minReadySeconds"))...)
	errs = append(errs, validateWorkloadCount(d.Spec.RevisionHistoryLimit, sp.Child("revisionHistoryLimit"))...)
	if pds := d.Spec.ProgressDeadlineSeconds; pds != nil {
		errs = append(errs, validateWorkloadCount(pds, sp.Child("progressDeadlineSeconds"))...)
		// A rollout cannot be judged stuck before a new pod could have become ready.
		if *pds <= d.Spec.MinReadySeconds {
			errs = append(errs, field.Invalid(sp.Child("progressDeadlineSeconds"), *pds, "must be greater than minReadySeconds"))
		}
	}
	if o, ok := old.(*appsv1.Deployment); ok {
		errs = append(errs, validateWorkloadSelectorUpdate(d.Spec.Selector, o.Spec.Selector)...)
	}
	return errs
}

func validateDeploymentStrategy(st *appsv1.DeploymentStrategy, p *field.Path) field.ErrorList {
	switch st.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if st.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(p.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
		return nil
	case appsv1.RollingUpdateDeploymentStrategyType:
		ru := st.RollingUpdate
		if ru == nil {
			return field.ErrorList{field.Required(p.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		rp := p.Child("rollingUpdate")
		errs := validateWorkloadIntOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))
		errs = append(errs, validateWorkloadIntOrPercent(ru.MaxSurge, rp.Child("maxSurge"))...)
		// With neither a spare pod nor one allowed down, a rollout could never start.
		if workloadIsZero(ru.MaxUnavailable) && workloadIsZero(ru.MaxSurge) {
			errs = append(errs, field.Invalid(rp.Child("maxUnavailable"), ru.MaxUnavailable, "may not be 0 when `maxSurge` is 0"))
		}
		return append(errs, validateWorkloadAtMost100(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
	}
	return field.ErrorList{field.NotSupported(p.Child("type"), st.Type,
		[]string{string(appsv1.RecreateDeploymentStrategyType), string(appsv1.RollingUpdateDeploymentStrategyType)})}
}
