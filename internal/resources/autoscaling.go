package resources

import (
	"slices"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// hpaDefaultCPUUtilization is the target an HPA without metrics gets, as in Kubernetes.
const hpaDefaultCPUUtilization = 80

// Bounds on scaling behaviour that Kubernetes enforces.
const (
	hpaMaxPeriodSeconds        = 1800
	hpaMaxStabilizationSeconds = 3600
)

var (
	hpaMetricTypes = []autoscalingv2.MetricSourceType{autoscalingv2.ContainerResourceMetricSourceType, autoscalingv2.ExternalMetricSourceType,
		autoscalingv2.ObjectMetricSourceType, autoscalingv2.PodsMetricSourceType, autoscalingv2.ResourceMetricSourceType}
	hpaSelectPolicies = []autoscalingv2.ScalingPolicySelect{autoscalingv2.DisabledPolicySelect, autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect}
	hpaPolicyTypes    = []autoscalingv2.HPAScalingPolicyType{autoscalingv2.PercentScalingPolicy, autoscalingv2.PodsScalingPolicy}
)

func (hpaStrategy) Default(obj runtime.Object) {
	hpa, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok {
		return
	}
	if hpa.Spec.MinReplicas == nil {
		hpa.Spec.MinReplicas = ptr.To[int32](1)
	}
	if len(hpa.Spec.Metrics) == 0 {
		hpa.Spec.Metrics = []autoscalingv2.MetricSpec{hpaCPUMetric(hpaDefaultCPUUtilization)}
	}
	// A behavior the user started is completed with the defaults; an absent one
	// stays absent (the controller applies the same defaults itself).
	if hpa.Spec.Behavior != nil {
		hpa.Spec.Behavior = HPABehaviorWithDefaults(hpa.Spec.Behavior)
	}
}

// HPABehaviorWithDefaults completes b (nil for none) with Kubernetes' default scaling
// rules: up by 4 pods or 100% per 15 s, whichever is more, at once; down by 100% per
// 15 s. The scale-down stabilization window stays unset: the controller's own (300 s)
// applies.
func HPABehaviorWithDefaults(b *autoscalingv2.HorizontalPodAutoscalerBehavior) *autoscalingv2.HorizontalPodAutoscalerBehavior {
	if b == nil {
		b = &autoscalingv2.HorizontalPodAutoscalerBehavior{}
	}
	b.ScaleUp = hpaFillRules(b.ScaleUp, autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr.To[int32](0),
		SelectPolicy:               ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
		},
	})
	b.ScaleDown = hpaFillRules(b.ScaleDown, autoscalingv2.HPAScalingRules{
		SelectPolicy: ptr.To(autoscalingv2.MaxChangePolicySelect),
		Policies:     []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
	})
	return b
}

func hpaCPUMetric(utilization int32) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ResourceMetricSourceType,
		Resource: &autoscalingv2.ResourceMetricSource{
			Name:   corev1.ResourceCPU,
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr.To(utilization)},
		},
	}
}

func hpaFillRules(r *autoscalingv2.HPAScalingRules, def autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if r == nil {
		return &def
	}
	if r.StabilizationWindowSeconds == nil {
		r.StabilizationWindowSeconds = def.StabilizationWindowSeconds
	}
	if r.SelectPolicy == nil {
		r.SelectPolicy = def.SelectPolicy
	}
	if r.Policies == nil {
		r.Policies = def.Policies
	}
	return r
}

func (hpaStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	hpa, ok := obj.(*autoscalingv2.HorizontalPodAutoscaler)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	spec := &hpa.Spec
	sp := field.NewPath("spec")
	if spec.MinReplicas != nil && *spec.MinReplicas < 1 {
		errs = append(errs, field.Invalid(sp.Child("minReplicas"), *spec.MinReplicas, "must be greater than or equal to 1"))
	}
	if spec.MaxReplicas < 1 {
		errs = append(errs, field.Invalid(sp.Child("maxReplicas"), spec.MaxReplicas, "must be greater than 0"))
	}
	if spec.MinReplicas != nil && spec.MaxReplicas < *spec.MinReplicas {
		errs = append(errs, field.Invalid(sp.Child("maxReplicas"), spec.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	errs = append(errs, validateHPAObjectRef(spec.ScaleTargetRef, sp.Child("scaleTargetRef"))...)
	for i := range spec.Metrics {
		errs = append(errs, validateHPAMetric(&spec.Metrics[i], sp.Child("metrics").Index(i))...)
	}
	if spec.Behavior != nil {
		bp := sp.Child("behavior")
		errs = append(errs, validateHPARules(spec.Behavior.ScaleUp, bp.Child("scaleUp"))...)
		errs = append(errs, validateHPARules(spec.Behavior.ScaleDown, bp.Child("scaleDown"))...)
	}
	return errs
}

// validateHPAObjectRef: kind and name become URL path segments when the controller
// reads the scale subresource.
func validateHPAObjectRef(ref autoscalingv2.CrossVersionObjectReference, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	check := func(name, v string) {
		if v == "" {
			errs = append(errs, field.Required(p.Child(name), ""))
			return
		}
		for _, msg := range path.IsValidPathSegmentName(v) {
			errs = append(errs, field.Invalid(p.Child(name), v, msg))
		}
	}
	check("kind", ref.Kind)
	check("name", ref.Name)
	return errs
}

func validateHPAMetric(m *autoscalingv2.MetricSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if m.Type == "" {
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric source type"))
	} else if !slices.Contains(hpaMetricTypes, m.Type) {
		errs = append(errs, field.NotSupported(p.Child("type"), m.Type, hpaMetricTypes))
	}
	present := sets.New[string]()
	tp := func(name string) *field.Path { return p.Child(name).Child("target") }
	if s := m.Object; s != nil {
		present.Insert("object")
		errs = append(errs, validateHPAObjectRef(s.DescribedObject, p.Child("object", "describedObject"))...)
		errs = append(errs, validateHPAMetricID(s.Metric, p.Child("object", "metric"))...)
		errs = append(errs, validateHPATarget(s.Target, tp("object"))...)
		if s.Target.Value == nil && s.Target.AverageValue == nil {
			errs = append(errs, field.Required(tp("object").Child("averageValue"), "must set either a target value or averageValue"))
		}
	}
	if s := m.Pods; s != nil {
		present.Insert("pods")
		errs = append(errs, validateHPAMetricID(s.Metric, p.Child("pods", "metric"))...)
		errs = append(errs, validateHPATarget(s.Target, tp("pods"))...)
		if s.Target.AverageValue == nil {
			errs = append(errs, field.Required(tp("pods").Child("averageValue"), "must specify a positive target averageValue"))
		}
	}
	if s := m.External; s != nil {
		present.Insert("external")
		errs = append(errs, validateHPAMetricID(s.Metric, p.Child("external", "metric"))...)
		errs = append(errs, validateHPATarget(s.Target, tp("external"))...)
		if s.Target.Value == nil && s.Target.AverageValue == nil {
			errs = append(errs, field.Required(tp("external").Child("averageValue"), "must set either a target value for metric or a per-pod target"))
		}
		if s.Target.Value != nil && s.Target.AverageValue != nil {
			errs = append(errs, field.Forbidden(tp("external").Child("value"), "may not set both a target value for metric and a per-pod target"))
		}
	}
	if s := m.Resource; s != nil {
		present.Insert("resource")
		errs = append(errs, validateHPAResource(string(s.Name), s.Target, p.Child("resource"))...)
	}
	if s := m.ContainerResource; s != nil {
		present.Insert("containerResource")
		errs = append(errs, validateHPAResource(string(s.Name), s.Target, p.Child("containerResource"))...)
		if s.Container == "" {
			errs = append(errs, field.Required(p.Child("containerResource", "container"), "must specify a container"))
		}
	}
	expected := map[autoscalingv2.MetricSourceType]string{
		autoscalingv2.ObjectMetricSourceType: "object", autoscalingv2.PodsMetricSourceType: "pods",
		autoscalingv2.ResourceMetricSourceType: "resource", autoscalingv2.ExternalMetricSourceType: "external",
		autoscalingv2.ContainerResourceMetricSourceType: "containerResource",
	}[m.Type]
	if expected != "" && !present.Has(expected) {
		errs = append(errs, field.Required(p.Child(expected), "must populate information for the given metric source"))
	}
	if present.Len() > 1 || (expected != "" && present.Len() == 1 && !present.Has(expected)) {
		for _, name := range sets.List(present) {
			if name != expected {
				errs = append(errs, field.Forbidden(p.Child(name), "must populate the given metric source only"))
			}
		}
	}
	return errs
}

func validateHPAResource(name string, t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		errs = append(errs, field.Required(p.Child("name"), "must specify a resource name"))
	}
	errs = append(errs, validateHPATarget(t, p.Child("target"))...)
	if t.AverageUtilization == nil && t.AverageValue == nil {
		errs = append(errs, field.Required(p.Child("target", "averageUtilization"), "must set either a target raw value or a target utilization"))
	}
	if t.AverageUtilization != nil && t.AverageValue != nil {
		errs = append(errs, field.Forbidden(p.Child("target", "averageValue"), "may not set both a target raw value and a target utilization"))
	}
	return errs
}

func validateHPAMetricID(id autoscalingv2.MetricIdentifier, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if id.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), "must specify a metric name"))
	} else {
		for _, msg := range path.IsValidPathSegmentName(id.Name) {
			errs = append(errs, field.Invalid(p.Child("name"), id.Name, msg))
		}
	}
	if id.Selector != nil {
		errs = append(errs, metav1validation.ValidateLabelSelector(id.Selector, metav1validation.LabelSelectorValidationOptions{}, p.Child("selector"))...)
	}
	return errs
}

func validateHPATarget(t autoscalingv2.MetricTarget, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch t.Type {
	case "":
		errs = append(errs, field.Required(p.Child("type"), "must specify a metric target type"))
	case autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType:
	default:
		errs = append(errs, field.Invalid(p.Child("type"), t.Type, "must be either Utilization, Value, or AverageValue"))
	}
	if t.Value != nil && t.Value.Sign() != 1 {
		errs = append(errs, field.Invalid(p.Child("value"), t.Value.String(), "must be positive"))
	}
	if t.AverageValue != nil && t.AverageValue.Sign() != 1 {
		errs = append(errs, field.Invalid(p.Child("averageValue"), t.AverageValue.String(), "must be positive"))
	}
	if t.AverageUtilization != nil && *t.AverageUtilization < 1 {
		errs = append(errs, field.Invalid(p.Child("averageUtilization"), *t.AverageUtilization, "must be greater than 0"))
	}
	return errs
}

func validateHPARules(r *autoscalingv2.HPAScalingRules, p *field.Path) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if w := r.StabilizationWindowSeconds; w != nil {
		if *w < 0 {
			errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, "must be greater than or equal to zero"))
		} else if *w > hpaMaxStabilizationSeconds {
			errs = append(errs, field.Invalid(p.Child("stabilizationWindowSeconds"), *w, "must be less than or equal to 3600"))
		}
	}
	if s := r.SelectPolicy; s != nil && !slices.Contains(hpaSelectPolicies, *s) {
		errs = append(errs, field.NotSupported(p.Child("selectPolicy"), *s, hpaSelectPolicies))
	}
	pp := p.Child("policies")
	if len(r.Policies) == 0 {
		errs = append(errs, field.Required(pp, "must specify at least one Policy"))
	}
	for i, pol := range r.Policies {
		ip := pp.Index(i)
		if !slices.Contains(hpaPolicyTypes, pol.Type) {
			errs = append(errs, field.NotSupported(ip.Child("type"), pol.Type, hpaPolicyTypes))
		}
		if pol.Value <= 0 {
			errs = append(errs, field.Invalid(ip.Child("value"), pol.Value, "must be greater than zero"))
		}
		if pol.PeriodSeconds <= 0 {
			errs = append(errs, field.Invalid(ip.Child("periodSeconds"), pol.PeriodSeconds, "must be greater than zero"))
		} else if pol.PeriodSeconds > hpaMaxPeriodSeconds {
			errs = append(errs, field.Invalid(ip.Child("periodSeconds"), pol.PeriodSeconds, "must be less than or equal to 1800"))
		}
	}
	return errs
}
