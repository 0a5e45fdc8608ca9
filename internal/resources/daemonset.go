package resources

import (
	appsv1 "k8s.io/api/apps/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func (daemonSetStrategy) Default(obj runtime.Object) {
	ds, ok := obj.(*appsv1.DaemonSet)
	if !ok {
		return
	}
	us := &ds.Spec.UpdateStrategy
	if us.Type == "" {
		us.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if us.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if us.RollingUpdate == nil {
			us.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if us.RollingUpdate.MaxUnavailable == nil {
			us.RollingUpdate.MaxUnavailable = podIntOrStringPtr(intstr.FromInt32(1))
		}
		if us.RollingUpdate.MaxSurge == nil {
			us.RollingUpdate.MaxSurge = podIntOrStringPtr(intstr.FromInt32(0))
		}
	}
	if ds.Spec.RevisionHistoryLimit == nil {
		ds.Spec.RevisionHistoryLimit = podPtr(int32(10))
	}
	defaultPodTemplateSpec(&ds.Spec.Template)
}

func (daemonSetStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	ds, ok := obj.(*appsv1.DaemonSet)
	if !ok {
		return nil
	}
	sp := field.NewPath("spec")
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateWorkloadSelector(ds.Spec.Selector, &ds.Spec.Template, sp, "daemonset")...)
	errs = append(errs, validateWorkloadTemplate(&ds.Spec.Template, sp.Child("template"), "DaemonSet")...)
	errs = append(errs, validateWorkloadCount(&ds.Spec.MinReadySeconds, sp.Child("minReadySeconds"))...)
	errs = append(errs, validateWorkloadCount(ds.Spec.RevisionHistoryLimit, sp.Child("revisionHistoryLimit"))...)
	errs = append(errs, validateDaemonSetStrategy(&ds.Spec.UpdateStrategy, sp.Child("updateStrategy"))...)
	if o, ok := old.(*appsv1.DaemonSet); ok {
		errs = append(errs, validateWorkloadSelectorUpdate(ds.Spec.Selector, o.Spec.Selector)...)
	}
	return errs
}

func validateDaemonSetStrategy(us *appsv1.DaemonSetUpdateStrategy, p *field.Path) field.ErrorList {
	switch us.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		ru := us.RollingUpdate
		if ru == nil {
			return field.ErrorList{field.Required(p.Child("rollingUpdate"), "")}
		}
		rp := p.Child("rollingUpdate")
		errs := validateWorkloadIntOrPercent(ru.MaxUnavailable, rp.Child("maxUnavailable"))
		errs = append(errs, validateWorkloadIntOrPercent(ru.MaxSurge, rp.Child("maxSurge"))...)
		errs = append(errs, validateWorkloadAtMost100(ru.MaxUnavailable, rp.Child("maxUnavailable"))...)
		// One pod per node: an update either surges a second pod on a node or takes
		// the old one down first, never both.
		surge, down := !workloadIsZero(ru.MaxSurge), !workloadIsZero(ru.MaxUnavailable)
		switch {
		case surge && down:
			errs = append(errs, field.Invalid(rp.Child("maxSurge"), ru.MaxSurge, "may not be set when maxUnavailable is non-zero"))
		case !surge && !down:
			errs = append(errs, field.Required(rp.Child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
		}
		return errs
	}
	return field.ErrorList{field.NotSupported(p.Child("type"), us.Type,
		[]string{string(appsv1.OnDeleteDaemonSetStrategyType), string(appsv1.RollingUpdateDaemonSetStrategyType)})}
}
