package podautoscaler

import (
	"errors"
	"fmt"
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// errNoMetricsClient is what a Pods, Object or External metric reports when the
// controller was built without a client for its API (as in benchmarks).
var errNoMetricsClient = errors.New("no client for the custom or external metrics API")

// podsProposal: a metric per pod from custom.metrics.k8s.io, averaged over the ready
// pods and held to the target's averageValue, with unready pods and pods without a
// value treated as for resource metrics.
func (s *syncer) podsProposal(ns string, src *autoscalingv2.PodsMetricSource, current int32,
	pods []*corev1.Pod, sel labels.Selector, now time.Time) (replicaProposal, autoscalingv2.MetricStatus, error) {
	fail := func(err error) (replicaProposal, autoscalingv2.MetricStatus, error) {
		return replicaProposal{}, autoscalingv2.MetricStatus{}, fmt.Errorf("failed to get pods metric value: %v", err)
	}
	if src.Target.AverageValue == nil {
		return fail(fmt.Errorf("invalid pods metric source: an averageValue target is required"))
	}
	metrics, err := s.podsMetric(ns, src.Metric, sel)
	if err != nil {
		return fail(fmt.Errorf("unable to get metric %s: %v", src.Metric.Name, err))
	}
	p, err := averageValueReplicas(current, src.Target.AverageValue.MilliValue(), "", pods, metrics, now)
	if err != nil {
		return fail(fmt.Errorf("unable to get metric %s: %v", src.Metric.Name, err))
	}
	return p, autoscalingv2.MetricStatus{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricStatus{
		Metric:  src.Metric,
		Current: autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(p.average, resource.DecimalSI)},
	}}, nil
}

// podsMetric reads metric's value (in milli-units) for each pod sel selects.
func (s *syncer) podsMetric(ns string, id autoscalingv2.MetricIdentifier, sel labels.Selector) (map[string]podMetric, error) {
	if s.Custom == nil {
		return nil, errNoMetricsClient
	}
	metricSel, err := metav1.LabelSelectorAsSelector(id.Selector)
	if err != nil {
		return nil, err
	}
	list, err := s.Custom.NamespacedMetrics(ns).GetForObjects(schema.GroupKind{Kind: "Pod"}, sel, id.Name, metricSel)
	if err != nil {
		return nil, fmt.Errorf("unable to fetch metrics from custom metrics API: %v", err)
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("no metrics returned from custom metrics API")
	}
	out := make(map[string]podMetric, len(list.Items))
	for _, m := range list.Items {
		out[m.DescribedObject.Name] = podMetric{value: m.Value.MilliValue(), timestamp: m.Timestamp.Time}
	}
	return out, nil
}

// objectProposal: one value describing another object (an Ingress's requests per
// second, say) from custom.metrics.k8s.io, held to a value for the whole target or
// to an average value per replica.
func (s *syncer) objectProposal(ns string, src *autoscalingv2.ObjectMetricSource, current, statusReplicas int32,
	pods []*corev1.Pod) (replicaProposal, autoscalingv2.MetricStatus, error) {
	obj := src.DescribedObject
	fail := func(err error) (replicaProposal, autoscalingv2.MetricStatus, error) {
		return replicaProposal{}, autoscalingv2.MetricStatus{}, fmt.Errorf("failed to get object metric value: unable to get metric %s: %s %s/%s: %v",
			src.Metric.Name, obj.Kind, ns, obj.Name, err)
	}
	usage, err := s.objectMetric(ns, src)
	if err != nil {
		return fail(err)
	}
	st := autoscalingv2.MetricStatus{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricStatus{
		Metric: src.Metric, DescribedObject: obj}}
	p, cur, err := valueOrAverage(src.Target, usage, current, statusReplicas, pods)
	if err != nil {
		return fail(err)
	}
	st.Object.Current = cur
	return p, st, nil
}

// objectMetric reads the described object's metric in milli-units. A Namespace is
// asked for at the root, any other kind within the HPA's namespace.
func (s *syncer) objectMetric(ns string, src *autoscalingv2.ObjectMetricSource) (int64, error) {
	if s.Custom == nil {
		return 0, errNoMetricsClient
	}
	metricSel, err := metav1.LabelSelectorAsSelector(src.Metric.Selector)
	if err != nil {
		return 0, err
	}
	gv, err := schema.ParseGroupVersion(src.DescribedObject.APIVersion)
	if err != nil {
		return 0, err
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: src.DescribedObject.Kind}
	if _, err := s.Mapper.RESTMapping(gk, gv.Version); err != nil {
		s.Mapper.Reset() // the kind may be new (a custom resource): ask discovery again next time
		return 0, fmt.Errorf("unable to map kind %s to a resource: %v", gk, err)
	}
	metrics := s.Custom.NamespacedMetrics(ns)
	name := src.DescribedObject.Name
	if gk == (schema.GroupKind{Kind: "Namespace"}) {
		metrics, name = s.Custom.RootScopedMetrics(), ns
	}
	v, err := metrics.GetForObject(gk, name, src.Metric.Name, metricSel)
	if err != nil {
		return 0, fmt.Errorf("unable to fetch metrics from custom metrics API: %v", err)
	}
	return v.Value.MilliValue(), nil
}

// externalProposal: a metric from outside the cluster (a queue's length) from
// external.metrics.k8s.io, summed over the series the selector picks and held to a
// value for the whole target or to an average value per replica.
func (s *syncer) externalProposal(ns string, src *autoscalingv2.ExternalMetricSource, current, statusReplicas int32,
	pods []*corev1.Pod) (replicaProposal, autoscalingv2.MetricStatus, error) {
	fail := func(err error) (replicaProposal, autoscalingv2.MetricStatus, error) {
		return replicaProposal{}, autoscalingv2.MetricStatus{}, fmt.Errorf("failed to get external metric value: unable to get external metric %s/%s/%s: %v",
			ns, src.Metric.Name, metav1.FormatLabelSelector(src.Metric.Selector), err)
	}
	usage, err := s.externalMetric(ns, src.Metric)
	if err != nil {
		return fail(err)
	}
	p, cur, err := valueOrAverage(src.Target, usage, current, statusReplicas, pods)
	if err != nil {
		return fail(err)
	}
	return p, autoscalingv2.MetricStatus{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricStatus{
		Metric: src.Metric, Current: cur}}, nil
}

// externalMetric is the sum (in milli-units) of the series id's selector picks.
func (s *syncer) externalMetric(ns string, id autoscalingv2.MetricIdentifier) (int64, error) {
	if s.External == nil {
		return 0, errNoMetricsClient
	}
	metricSel, err := metav1.LabelSelectorAsSelector(id.Selector)
	if err != nil {
		return 0, err
	}
	list, err := s.External.NamespacedMetrics(ns).List(id.Name, metricSel)
	if err != nil {
		return 0, fmt.Errorf("unable to fetch metrics from external metrics API: %v", err)
	}
	if len(list.Items) == 0 {
		return 0, fmt.Errorf("no metrics returned from external metrics API")
	}
	var sum int64
	for _, m := range list.Items {
		sum += m.Value.MilliValue()
	}
	return sum, nil
}

// valueOrAverage applies an Object or External metric's target to its usage
// (milli-units): a value target scales the ready pods by the ratio, an averageValue
// target divides the usage among replicas.
func valueOrAverage(target autoscalingv2.MetricTarget, usage int64, current, statusReplicas int32,
	pods []*corev1.Pod) (replicaProposal, autoscalingv2.MetricValueStatus, error) {
	switch {
	case target.Value != nil:
		n, err := valueReplicas(current, float64(usage)/float64(target.Value.MilliValue()), func() (int, error) { return readyPods(pods) })
		return replicaProposal{replicas: n, average: usage},
			autoscalingv2.MetricValueStatus{Value: resource.NewMilliQuantity(usage, resource.DecimalSI)}, err
	case target.AverageValue != nil:
		n, avg := perReplicaReplicas(statusReplicas, usage, target.AverageValue.MilliValue())
		return replicaProposal{replicas: n, average: avg},
			autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(avg, resource.DecimalSI)}, nil
	}
	return replicaProposal{}, autoscalingv2.MetricValueStatus{}, fmt.Errorf("neither a value target nor an averageValue target was set")
}

// valueReplicas is the replica count for a metric that describes the whole target,
// at ratio to its target value: within the tolerance nothing changes; otherwise the
// ready pods are scaled by the ratio (from zero replicas, the ratio itself is the
// count).
func valueReplicas(current int32, ratio float64, ready func() (int, error)) (int32, error) {
	if current == 0 {
		return int32(math.Ceil(ratio)), nil
	}
	if math.Abs(1.0-ratio) <= tolerance {
		return current, nil
	}
	n, err := ready()
	if err != nil {
		return 0, err
	}
	return int32(math.Ceil(ratio * float64(n))), nil
}

// perReplicaReplicas is the replica count that brings usage per replica to target,
// from the replicas the target has now (its status), and the current usage per
// replica; within the tolerance the count stays.
func perReplicaReplicas(statusReplicas int32, usage, target int64) (int32, int64) {
	if statusReplicas == 0 {
		return int32(math.Ceil(float64(usage) / float64(target))), usage
	}
	n := statusReplicas
	if ratio := float64(usage) / (float64(target) * float64(statusReplicas)); math.Abs(1.0-ratio) > tolerance {
		n = int32(math.Ceil(float64(usage) / float64(target)))
	}
	return n, int64(math.Ceil(float64(usage) / float64(statusReplicas)))
}

// readyPods counts the running, ready pods among pods: the ones a value target's
// ratio scales.
func readyPods(pods []*corev1.Pod) (int, error) {
	if len(pods) == 0 {
		return 0, fmt.Errorf("no pods returned by selector while calculating replica count")
	}
	n := 0
	for _, pod := range pods {
		if c := readyCondition(pod); pod.Status.Phase == corev1.PodRunning && c != nil && c.Status == corev1.ConditionTrue {
			n++
		}
	}
	return n, nil
}
