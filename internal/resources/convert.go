package resources

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strings"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Annotations through which autoscaling/v1 carries what only v2 can express, so a
// v2 object read and written back through v1 loses nothing. The names are
// Kubernetes' own, so objects move between the two systems unchanged.
const (
	hpaMetricsAnnotation        = "autoscaling.alpha.kubernetes.io/metrics"
	hpaCurrentMetricsAnnotation = "autoscaling.alpha.kubernetes.io/current-metrics"
	hpaConditionsAnnotation     = "autoscaling.alpha.kubernetes.io/conditions"
	hpaBehaviorAnnotation       = "autoscaling.alpha.kubernetes.io/behavior"
)

// Selectors that keep a policy/v1beta1 PDB's meaning in policy/v1: in v1beta1 an
// empty selector matches no pods, in v1 it matches every pod.
var (
	pdbV1beta1MatchNone = &metav1.LabelSelector{}
	pdbV1MatchNone      = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match", Operator: metav1.LabelSelectorOpExists}}}
	pdbV1beta1MatchAll = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "pdb.kubernetes.io/deprecated-v1beta1-empty-selector-match", Operator: metav1.LabelSelectorOpDoesNotExist}}}
	pdbV1MatchAll = &metav1.LabelSelector{}
)

// Convert returns a copy of obj as the kind to, with TypeMeta set to to. It converts
// between a storage version and the older versions served beside it; kinds that
// share a Go type are copied. obj is never modified. Lists convert item by item.
func Convert(obj runtime.Object, to schema.GroupVersionKind) (runtime.Object, error) {
	target, err := convertNew(to)
	if err != nil {
		return nil, err
	}
	var out runtime.Object
	if reflect.TypeOf(target) == reflect.TypeOf(obj) {
		out = obj.DeepCopyObject()
	} else if meta.IsListType(obj) && meta.IsListType(target) {
		out, err = convertList(obj, target, to)
	} else {
		out, err = convertKind(obj.DeepCopyObject(), target)
	}
	if err != nil {
		return nil, err
	}
	out.GetObjectKind().SetGroupVersionKind(to)
	return out, nil
}

func convertNew(to schema.GroupVersionKind) (runtime.Object, error) {
	// Scheme maps autoscaling/v2beta2 to the v2 Go type, so that pair is a copy.
	obj, err := Scheme.New(to)
	if err != nil {
		return nil, fmt.Errorf("convert to %s: %w", to, err)
	}
	return obj, nil
}

func convertList(obj, target runtime.Object, to schema.GroupVersionKind) (runtime.Object, error) {
	items, err := meta.ExtractList(obj)
	if err != nil {
		return nil, err
	}
	itemKind := to.GroupVersion().WithKind(strings.TrimSuffix(to.Kind, "List"))
	converted := make([]runtime.Object, 0, len(items))
	for _, item := range items {
		c, err := Convert(item, itemKind)
		if err != nil {
			return nil, err
		}
		converted = append(converted, c)
	}
	if err := meta.SetList(target, converted); err != nil {
		return nil, err
	}
	// Carry resourceVersion and continue token.
	if src, err := meta.ListAccessor(obj); err == nil {
		if dst, err := meta.ListAccessor(target); err == nil {
			dst.SetResourceVersion(src.GetResourceVersion())
			dst.SetContinue(src.GetContinue())
			dst.SetRemainingItemCount(src.GetRemainingItemCount())
			dst.SetSelfLink(src.GetSelfLink())
		}
	}
	return target, nil
}

func convertKind(obj, target runtime.Object) (runtime.Object, error) {
	switch src := obj.(type) {
	case *autoscalingv2.HorizontalPodAutoscaler:
		if _, ok := target.(*autoscalingv1.HorizontalPodAutoscaler); ok {
			return hpaV2ToV1(src)
		}
	case *autoscalingv1.HorizontalPodAutoscaler:
		if _, ok := target.(*autoscalingv2.HorizontalPodAutoscaler); ok {
			return hpaV1ToV2(src)
		}
	case *policyv1.PodDisruptionBudget:
		if _, ok := target.(*policyv1beta1.PodDisruptionBudget); ok {
			return pdbV1ToV1beta1(src), nil
		}
	case *policyv1beta1.PodDisruptionBudget:
		if _, ok := target.(*policyv1.PodDisruptionBudget); ok {
			return pdbV1beta1ToV1(src), nil
		}
	case *corev1.Event:
		if _, ok := target.(*eventsv1.Event); ok {
			return eventCoreToEvents(src), nil
		}
	case *eventsv1.Event:
		if _, ok := target.(*corev1.Event); ok {
			return eventEventsToCore(src), nil
		}
	}
	return nil, fmt.Errorf("no conversion from %T to %T", obj, target)
}

// pdbV1ToV1beta1 and pdbV1beta1ToV1: the versions have the same fields; only the
// meaning of an empty selector differs.
func pdbV1ToV1beta1(in *policyv1.PodDisruptionBudget) *policyv1beta1.PodDisruptionBudget {
	out := &policyv1beta1.PodDisruptionBudget{ObjectMeta: in.ObjectMeta}
	out.Spec = policyv1beta1.PodDisruptionBudgetSpec{
		MinAvailable:               in.Spec.MinAvailable,
		Selector:                   in.Spec.Selector,
		MaxUnavailable:             in.Spec.MaxUnavailable,
		UnhealthyPodEvictionPolicy: (*policyv1beta1.UnhealthyPodEvictionPolicyType)(in.Spec.UnhealthyPodEvictionPolicy),
	}
	switch {
	case equality.Semantic.DeepEqual(in.Spec.Selector, pdbV1MatchNone):
		out.Spec.Selector = pdbV1beta1MatchNone.DeepCopy()
	case equality.Semantic.DeepEqual(in.Spec.Selector, pdbV1MatchAll):
		out.Spec.Selector = pdbV1beta1MatchAll.DeepCopy()
	}
	out.Status = policyv1beta1.PodDisruptionBudgetStatus(in.Status)
	return out
}

func pdbV1beta1ToV1(in *policyv1beta1.PodDisruptionBudget) *policyv1.PodDisruptionBudget {
	out := &policyv1.PodDisruptionBudget{ObjectMeta: in.ObjectMeta}
	out.Spec = policyv1.PodDisruptionBudgetSpec{
		MinAvailable:               in.Spec.MinAvailable,
		Selector:                   in.Spec.Selector,
		MaxUnavailable:             in.Spec.MaxUnavailable,
		UnhealthyPodEvictionPolicy: (*policyv1.UnhealthyPodEvictionPolicyType)(in.Spec.UnhealthyPodEvictionPolicy),
	}
	switch {
	case equality.Semantic.DeepEqual(in.Spec.Selector, pdbV1beta1MatchNone):
		out.Spec.Selector = pdbV1MatchNone.DeepCopy()
	case equality.Semantic.DeepEqual(in.Spec.Selector, pdbV1beta1MatchAll):
		out.Spec.Selector = pdbV1MatchAll.DeepCopy()
	}
	out.Status = policyv1.PodDisruptionBudgetStatus(in.Status)
	return out
}

func eventCoreToEvents(in *corev1.Event) *eventsv1.Event {
	out := &eventsv1.Event{
		ObjectMeta:               in.ObjectMeta,
		EventTime:                in.EventTime,
		ReportingController:      in.ReportingController,
		ReportingInstance:        in.ReportingInstance,
		Action:                   in.Action,
		Reason:                   in.Reason,
		Regarding:                in.InvolvedObject,
		Related:                  in.Related,
		Note:                     in.Message,
		Type:                     in.Type,
		DeprecatedSource:         in.Source,
		DeprecatedFirstTimestamp: in.FirstTimestamp,
		DeprecatedLastTimestamp:  in.LastTimestamp,
		DeprecatedCount:          in.Count,
	}
	if in.Series != nil {
		out.Series = &eventsv1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
	return out
}

func eventEventsToCore(in *eventsv1.Event) *corev1.Event {
	out := &corev1.Event{
		ObjectMeta:          in.ObjectMeta,
		InvolvedObject:      in.Regarding,
		Reason:              in.Reason,
		Message:             in.Note,
		Source:              in.DeprecatedSource,
		FirstTimestamp:      in.DeprecatedFirstTimestamp,
		LastTimestamp:       in.DeprecatedLastTimestamp,
		Count:               in.DeprecatedCount,
		Type:                in.Type,
		EventTime:           in.EventTime,
		Action:              in.Action,
		Related:             in.Related,
		ReportingController: in.ReportingController,
		ReportingInstance:   in.ReportingInstance,
	}
	if in.Series != nil {
		out.Series = &corev1.EventSeries{Count: in.Series.Count, LastObservedTime: in.Series.LastObservedTime}
	}
	return out
}

// hpaDropRoundTripAnnotations removes the carrier annotations so the only ones an
// object has are those this conversion just wrote.
func hpaDropRoundTripAnnotations(in map[string]string) map[string]string {
	out := maps.Clone(in)
	for _, k := range []string{hpaMetricsAnnotation, hpaCurrentMetricsAnnotation, hpaConditionsAnnotation, hpaBehaviorAnnotation} {
		delete(out, k)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func hpaIsCPUUtilization(m autoscalingv2.MetricSpec) bool {
	return m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil &&
		m.Resource.Name == corev1.ResourceCPU && m.Resource.Target.AverageUtilization != nil
}

func hpaV2ToV1(in *autoscalingv2.HorizontalPodAutoscaler) (*autoscalingv1.HorizontalPodAutoscaler, error) {
	out := &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: in.ObjectMeta}
	out.Annotations = hpaDropRoundTripAnnotations(in.Annotations)
	out.Spec = autoscalingv1.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv1.CrossVersionObjectReference(in.Spec.ScaleTargetRef),
		MinReplicas:    in.Spec.MinReplicas,
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	var others []autoscalingv1.MetricSpec
	cpuSeen := false
	for _, m := range in.Spec.Metrics {
		// The first CPU utilization target is v1's own field; everything else
		// travels in the annotation.
		if hpaIsCPUUtilization(m) && !cpuSeen {
			cpuSeen = true
			out.Spec.TargetCPUUtilizationPercentage = m.Resource.Target.AverageUtilization
			continue
		}
		others = append(others, hpaMetricSpecToV1(m))
	}
	st := in.Status
	out.Status = autoscalingv1.HorizontalPodAutoscalerStatus{
		ObservedGeneration: st.ObservedGeneration,
		LastScaleTime:      st.LastScaleTime,
		CurrentReplicas:    st.CurrentReplicas,
		DesiredReplicas:    st.DesiredReplicas,
	}
	var current []autoscalingv1.MetricStatus
	for _, m := range st.CurrentMetrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Current.AverageUtilization != nil {
			out.Status.CurrentCPUUtilizationPercentage = m.Resource.Current.AverageUtilization
		}
		// All statuses go in the annotation, CPU included, to keep raw values.
		current = append(current, hpaMetricStatusToV1(m))
	}
	var conds []autoscalingv1.HorizontalPodAutoscalerCondition
	for _, c := range st.Conditions {
		conds = append(conds, autoscalingv1.HorizontalPodAutoscalerCondition{
			Type: autoscalingv1.HorizontalPodAutoscalerConditionType(c.Type), Status: c.Status,
			LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
			ObservedGeneration: c.ObservedGeneration,
		})
	}
	set := func(key string, v any, present bool) error {
		if !present {
			return nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if out.Annotations == nil {
			out.Annotations = map[string]string{}
		}
		out.Annotations[key] = string(b)
		return nil
	}
	for _, e := range []error{
		set(hpaMetricsAnnotation, others, len(others) > 0),
		set(hpaCurrentMetricsAnnotation, current, len(current) > 0),
		set(hpaBehaviorAnnotation, in.Spec.Behavior, in.Spec.Behavior != nil),
		set(hpaConditionsAnnotation, conds, len(conds) > 0),
	} {
		if e != nil {
			return nil, e
		}
	}
	return out, nil
}

func hpaV1ToV2(in *autoscalingv1.HorizontalPodAutoscaler) (*autoscalingv2.HorizontalPodAutoscaler, error) {
	out := &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: in.ObjectMeta}
	out.Annotations = hpaDropRoundTripAnnotations(in.Annotations)
	out.Spec = autoscalingv2.HorizontalPodAutoscalerSpec{
		ScaleTargetRef: autoscalingv2.CrossVersionObjectReference(in.Spec.ScaleTargetRef),
		MinReplicas:    in.Spec.MinReplicas,
		MaxReplicas:    in.Spec.MaxReplicas,
	}
	ann := in.Annotations
	if enc, ok := ann[hpaMetricsAnnotation]; ok {
		var others []autoscalingv1.MetricSpec
		if err := json.Unmarshal([]byte(enc), &others); err != nil {
			return nil, fmt.Errorf("annotation %s: %w", hpaMetricsAnnotation, err)
		}
		for _, m := range others {
			out.Spec.Metrics = append(out.Spec.Metrics, hpaMetricSpecFromV1(m))
		}
	}
	if in.Spec.TargetCPUUtilizationPercentage != nil {
		out.Spec.Metrics = append(out.Spec.Metrics, hpaCPUMetric(*in.Spec.TargetCPUUtilizationPercentage))
	}
	// v1 applied an 80% CPU target implicitly; v2 states it.
	if len(out.Spec.Metrics) == 0 {
		out.Spec.Metrics = []autoscalingv2.MetricSpec{hpaCPUMetric(hpaDefaultCPUUtilization)}
	}
	if enc, ok := ann[hpaBehaviorAnnotation]; ok {
		var b autoscalingv2.HorizontalPodAutoscalerBehavior
		if err := json.Unmarshal([]byte(enc), &b); err != nil {
			return nil, fmt.Errorf("annotation %s: %w", hpaBehaviorAnnotation, err)
		}
		out.Spec.Behavior = &b
	}
	st := in.Status
	out.Status = autoscalingv2.HorizontalPodAutoscalerStatus{
		ObservedGeneration: st.ObservedGeneration,
		LastScaleTime:      st.LastScaleTime,
		CurrentReplicas:    st.CurrentReplicas,
		DesiredReplicas:    st.DesiredReplicas,
	}
	if enc, ok := ann[hpaCurrentMetricsAnnotation]; ok {
		var current []autoscalingv1.MetricStatus
		if err := json.Unmarshal([]byte(enc), &current); err != nil {
			return nil, fmt.Errorf("annotation %s: %w", hpaCurrentMetricsAnnotation, err)
		}
		for _, m := range current {
			out.Status.CurrentMetrics = append(out.Status.CurrentMetrics, hpaMetricStatusFromV1(m))
		}
	} else if u := st.CurrentCPUUtilizationPercentage; u != nil {
		out.Status.CurrentMetrics = []autoscalingv2.MetricStatus{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{
				Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: u},
			},
		}}
	}
	if enc, ok := ann[hpaConditionsAnnotation]; ok {
		var conds []autoscalingv1.HorizontalPodAutoscalerCondition
		if err := json.Unmarshal([]byte(enc), &conds); err != nil {
			return nil, fmt.Errorf("annotation %s: %w", hpaConditionsAnnotation, err)
		}
		for _, c := range conds {
			out.Status.Conditions = append(out.Status.Conditions, autoscalingv2.HorizontalPodAutoscalerCondition{
				Type: autoscalingv2.HorizontalPodAutoscalerConditionType(c.Type), Status: c.Status,
				LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message,
				ObservedGeneration: c.ObservedGeneration,
			})
		}
	}
	return out, nil
}

// The v1 metric shapes (as in v2beta1) exist only to carry v2 metrics in
// annotations. A v1 quantity that is not a pointer comes back as nil when it was
// unset (zero) and the other target says what the metric means.

func hpaMetricSpecToV1(m autoscalingv2.MetricSpec) autoscalingv1.MetricSpec {
	out := autoscalingv1.MetricSpec{Type: autoscalingv1.MetricSourceType(m.Type)}
	if s := m.Object; s != nil {
		out.Object = &autoscalingv1.ObjectMetricSource{
			Target:       autoscalingv1.CrossVersionObjectReference(s.DescribedObject),
			MetricName:   s.Metric.Name,
			Selector:     s.Metric.Selector,
			AverageValue: s.Target.AverageValue,
		}
		if s.Target.Value != nil {
			out.Object.TargetValue = *s.Target.Value
		}
	}
	if s := m.Pods; s != nil {
		out.Pods = &autoscalingv1.PodsMetricSource{MetricName: s.Metric.Name, Selector: s.Metric.Selector}
		if s.Target.AverageValue != nil {
			out.Pods.TargetAverageValue = *s.Target.AverageValue
		}
	}
	if s := m.Resource; s != nil {
		out.Resource = &autoscalingv1.ResourceMetricSource{Name: s.Name,
			TargetAverageUtilization: s.Target.AverageUtilization, TargetAverageValue: s.Target.AverageValue}
	}
	if s := m.ContainerResource; s != nil {
		out.ContainerResource = &autoscalingv1.ContainerResourceMetricSource{Name: s.Name, Container: s.Container,
			TargetAverageUtilization: s.Target.AverageUtilization, TargetAverageValue: s.Target.AverageValue}
	}
	if s := m.External; s != nil {
		out.External = &autoscalingv1.ExternalMetricSource{MetricName: s.Metric.Name, MetricSelector: s.Metric.Selector,
			TargetValue: s.Target.Value, TargetAverageValue: s.Target.AverageValue}
	}
	return out
}

func hpaMetricSpecFromV1(m autoscalingv1.MetricSpec) autoscalingv2.MetricSpec {
	out := autoscalingv2.MetricSpec{Type: autoscalingv2.MetricSourceType(m.Type)}
	if s := m.Object; s != nil {
		t := autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, AverageValue: s.AverageValue}
		if s.AverageValue != nil {
			t.Type = autoscalingv2.AverageValueMetricType
		}
		if s.AverageValue == nil || !s.TargetValue.IsZero() {
			v := s.TargetValue
			t.Value = &v
		}
		out.Object = &autoscalingv2.ObjectMetricSource{
			DescribedObject: autoscalingv2.CrossVersionObjectReference(s.Target),
			Metric:          autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.Selector},
			Target:          t,
		}
	}
	if s := m.Pods; s != nil {
		v := s.TargetAverageValue
		out.Pods = &autoscalingv2.PodsMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.Selector},
			Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &v},
		}
	}
	if s := m.Resource; s != nil {
		out.Resource = &autoscalingv2.ResourceMetricSource{Name: s.Name, Target: hpaResourceTarget(s.TargetAverageUtilization, s.TargetAverageValue)}
	}
	if s := m.ContainerResource; s != nil {
		out.ContainerResource = &autoscalingv2.ContainerResourceMetricSource{Name: s.Name, Container: s.Container,
			Target: hpaResourceTarget(s.TargetAverageUtilization, s.TargetAverageValue)}
	}
	if s := m.External; s != nil {
		t := autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, Value: s.TargetValue, AverageValue: s.TargetAverageValue}
		if s.TargetValue != nil {
			t.Type = autoscalingv2.ValueMetricType
		}
		out.External = &autoscalingv2.ExternalMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.MetricSelector}, Target: t,
		}
	}
	return out
}

func hpaResourceTarget(util *int32, avg *resource.Quantity) autoscalingv2.MetricTarget {
	t := autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageUtilization: util, AverageValue: avg}
	if util != nil {
		t.Type = autoscalingv2.UtilizationMetricType
	}
	return t
}

func hpaMetricStatusToV1(m autoscalingv2.MetricStatus) autoscalingv1.MetricStatus {
	out := autoscalingv1.MetricStatus{Type: autoscalingv1.MetricSourceType(m.Type)}
	deref := func(q *resource.Quantity) resource.Quantity {
		if q == nil {
			return resource.Quantity{}
		}
		return *q
	}
	if s := m.Object; s != nil {
		out.Object = &autoscalingv1.ObjectMetricStatus{Target: autoscalingv1.CrossVersionObjectReference(s.DescribedObject),
			MetricName: s.Metric.Name, Selector: s.Metric.Selector, CurrentValue: deref(s.Current.Value), AverageValue: s.Current.AverageValue}
	}
	if s := m.Pods; s != nil {
		out.Pods = &autoscalingv1.PodsMetricStatus{MetricName: s.Metric.Name, Selector: s.Metric.Selector,
			CurrentAverageValue: deref(s.Current.AverageValue)}
	}
	if s := m.Resource; s != nil {
		out.Resource = &autoscalingv1.ResourceMetricStatus{Name: s.Name,
			CurrentAverageUtilization: s.Current.AverageUtilization, CurrentAverageValue: deref(s.Current.AverageValue)}
	}
	if s := m.ContainerResource; s != nil {
		out.ContainerResource = &autoscalingv1.ContainerResourceMetricStatus{Name: s.Name, Container: s.Container,
			CurrentAverageUtilization: s.Current.AverageUtilization, CurrentAverageValue: deref(s.Current.AverageValue)}
	}
	if s := m.External; s != nil {
		out.External = &autoscalingv1.ExternalMetricStatus{MetricName: s.Metric.Name, MetricSelector: s.Metric.Selector,
			CurrentValue: deref(s.Current.Value), CurrentAverageValue: s.Current.AverageValue}
	}
	return out
}

func hpaMetricStatusFromV1(m autoscalingv1.MetricStatus) autoscalingv2.MetricStatus {
	out := autoscalingv2.MetricStatus{Type: autoscalingv2.MetricSourceType(m.Type)}
	ref := func(q resource.Quantity) *resource.Quantity { return &q }
	if s := m.Object; s != nil {
		out.Object = &autoscalingv2.ObjectMetricStatus{DescribedObject: autoscalingv2.CrossVersionObjectReference(s.Target),
			Metric:  autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.Selector},
			Current: autoscalingv2.MetricValueStatus{Value: ref(s.CurrentValue), AverageValue: s.AverageValue}}
	}
	if s := m.Pods; s != nil {
		out.Pods = &autoscalingv2.PodsMetricStatus{Metric: autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.Selector},
			Current: autoscalingv2.MetricValueStatus{AverageValue: ref(s.CurrentAverageValue)}}
	}
	if s := m.Resource; s != nil {
		out.Resource = &autoscalingv2.ResourceMetricStatus{Name: s.Name,
			Current: autoscalingv2.MetricValueStatus{AverageUtilization: s.CurrentAverageUtilization, AverageValue: ref(s.CurrentAverageValue)}}
	}
	if s := m.ContainerResource; s != nil {
		out.ContainerResource = &autoscalingv2.ContainerResourceMetricStatus{Name: s.Name, Container: s.Container,
			Current: autoscalingv2.MetricValueStatus{AverageUtilization: s.CurrentAverageUtilization, AverageValue: ref(s.CurrentAverageValue)}}
	}
	if s := m.External; s != nil {
		out.External = &autoscalingv2.ExternalMetricStatus{Metric: autoscalingv2.MetricIdentifier{Name: s.MetricName, Selector: s.MetricSelector},
			Current: autoscalingv2.MetricValueStatus{Value: ref(s.CurrentValue), AverageValue: s.CurrentAverageValue}}
	}
	return out
}
