package podautoscaler

import (
	"context"
	"fmt"
	"strings"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// fromMetrics is the largest replica count any metric asks for, with the reason for
// the event. When a metric cannot be read, the HPA only scales up on the others, and
// when none can, ScalingActive turns False and nothing changes. Each metric's status
// keeps its spec's position (empty when it could not be read), which is how
// kubectl matches them.
func (s *syncer) fromMetrics(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler, current int32,
	selector string, now time.Time) (int32, string, bool) {
	pods, sel, err := s.targetPods(hpa.Namespace, selector)
	if err != nil {
		s.failMetrics(hpa, "InvalidSelector", err)
		return 0, "", false
	}
	statuses := make([]autoscalingv2.MetricStatus, len(hpa.Spec.Metrics))
	var best int32
	var bestName string
	var firstErr error
	var firstType autoscalingv2.MetricSourceType
	failed := 0
	for i := range hpa.Spec.Metrics {
		spec := &hpa.Spec.Metrics[i]
		p, st, err := s.proposal(ctx, hpa.Namespace, spec, current, hpa.Status.CurrentReplicas, pods, sel, now)
		if err != nil {
			s.recorder.Event(hpa, corev1.EventTypeWarning, failureReason(spec.Type), err.Error())
			failed++
			if firstErr == nil {
				firstErr, firstType = err, spec.Type
			}
			continue
		}
		statuses[i] = st
		if bestName == "" || p.replicas > best {
			best, bestName = p.replicas, metricName(spec)
		}
	}
	hpa.Status.CurrentMetrics = statuses
	if failed > 0 {
		msg := fmt.Errorf("invalid metrics (%d invalid out of %d), first error is: %v", failed, len(hpa.Spec.Metrics), firstErr)
		s.recorder.Event(hpa, corev1.EventTypeWarning, "FailedComputeMetricsReplicas", msg.Error())
		if failed == len(hpa.Spec.Metrics) {
			setInactive(hpa, failureReason(firstType), firstErr)
			return 0, "", false
		}
		best = max(best, current) // never scale down on partial information
	}
	setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionTrue, "ValidMetricFound",
		"the HPA was able to successfully calculate a replica count from %s", bestName)
	reason := bestName + " above target"
	if best < current {
		reason = "All metrics below target"
	}
	return best, reason, true
}

func (s *syncer) failMetrics(hpa *autoscalingv2.HorizontalPodAutoscaler, reason string, err error) {
	s.recorder.Event(hpa, corev1.EventTypeWarning, reason, err.Error())
	setInactive(hpa, reason, err)
}

// setInactive says in ScalingActive why no replica count could be computed.
func setInactive(hpa *autoscalingv2.HorizontalPodAutoscaler, reason string, err error) {
	setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, reason, "the HPA was unable to compute the replica count: %v", err)
}

func failureReason(t autoscalingv2.MetricSourceType) string {
	return "FailedGet" + string(t) + "Metric"
}

// proposal computes one metric's replica count and its current value for the status.
// current is the target's desired replica count, statusReplicas the count it has.
func (s *syncer) proposal(ctx context.Context, ns string, spec *autoscalingv2.MetricSpec, current, statusReplicas int32,
	pods []*corev1.Pod, sel labels.Selector, now time.Time) (replicaProposal, autoscalingv2.MetricStatus, error) {
	switch {
	case spec.Type == autoscalingv2.PodsMetricSourceType && spec.Pods != nil:
		return s.podsProposal(ns, spec.Pods, current, pods, sel, now)
	case spec.Type == autoscalingv2.ObjectMetricSourceType && spec.Object != nil:
		return s.objectProposal(ns, spec.Object, current, statusReplicas, pods)
	case spec.Type == autoscalingv2.ExternalMetricSourceType && spec.External != nil:
		return s.externalProposal(ns, spec.External, current, statusReplicas, pods)
	}
	return s.resourceProposal(ctx, ns, spec, current, pods, sel, now)
}

// resourceProposal is proposal for Resource and ContainerResource metrics, read from
// metrics.k8s.io.
func (s *syncer) resourceProposal(ctx context.Context, ns string, spec *autoscalingv2.MetricSpec, current int32,
	pods []*corev1.Pod, sel labels.Selector, now time.Time) (replicaProposal, autoscalingv2.MetricStatus, error) {
	var name corev1.ResourceName
	var container string
	var target autoscalingv2.MetricTarget
	switch spec.Type {
	case autoscalingv2.ResourceMetricSourceType:
		name, target = spec.Resource.Name, spec.Resource.Target
	case autoscalingv2.ContainerResourceMetricSourceType:
		name, container, target = spec.ContainerResource.Name, spec.ContainerResource.Container, spec.ContainerResource.Target
	default:
		return replicaProposal{}, autoscalingv2.MetricStatus{}, fmt.Errorf("unknown metric source type %q", spec.Type)
	}
	metrics, err := s.podMetrics(ctx, ns, sel, name, container)
	if err != nil {
		return replicaProposal{}, autoscalingv2.MetricStatus{}, fmt.Errorf("failed to get %s utilization: unable to get metrics for resource %s: %v", name, name, err)
	}
	var p replicaProposal
	switch {
	case target.AverageUtilization != nil:
		p, err = utilizationReplicas(current, *target.AverageUtilization, name, container, pods, metrics, now)
	case target.AverageValue != nil:
		p, err = averageValueReplicas(current, target.AverageValue.MilliValue(), name, pods, metrics, now)
	default:
		err = fmt.Errorf("invalid resource metric source: neither a utilization target nor a value target was set")
	}
	if err != nil {
		return replicaProposal{}, autoscalingv2.MetricStatus{}, fmt.Errorf("failed to get %s utilization: %v", name, err)
	}
	cur := autoscalingv2.MetricValueStatus{AverageValue: resource.NewMilliQuantity(p.average, resource.DecimalSI)}
	if name == corev1.ResourceMemory {
		cur.AverageValue = resource.NewQuantity(p.average/1000, resource.BinarySI)
	}
	if target.AverageUtilization != nil {
		cur.AverageUtilization = &p.percent
	}
	st := autoscalingv2.MetricStatus{Type: spec.Type}
	if container == "" {
		st.Resource = &autoscalingv2.ResourceMetricStatus{Name: name, Current: cur}
	} else {
		st.ContainerResource = &autoscalingv2.ContainerResourceMetricStatus{Name: name, Container: container, Current: cur}
	}
	return p, st, nil
}

// podMetrics reads each selected pod's usage of resource (milli-units) from
// metrics.k8s.io, over all its containers or the one named.
func (s *syncer) podMetrics(ctx context.Context, ns string, sel labels.Selector, name corev1.ResourceName, container string) (map[string]podMetric, error) {
	list, err := s.Metrics.PodMetricses(ns).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, err
	}
	if len(list.Items) == 0 {
		return nil, fmt.Errorf("no metrics returned from resource metrics API")
	}
	out := make(map[string]podMetric, len(list.Items))
	for _, pm := range list.Items {
		var sum int64
		found := false
		for _, c := range pm.Containers {
			if container != "" && c.Name != container {
				continue
			}
			if q, ok := c.Usage[name]; ok {
				sum += q.MilliValue()
				found = true
			}
		}
		if found {
			out[pm.Name] = podMetric{value: sum, timestamp: pm.Timestamp.Time, window: pm.Window.Duration}
		}
	}
	return out, nil
}

// metricName describes a metric as kubectl describe and the events do.
func metricName(spec *autoscalingv2.MetricSpec) string {
	switch spec.Type {
	case autoscalingv2.ResourceMetricSourceType:
		return describeResource(string(spec.Resource.Name), "", spec.Resource.Target)
	case autoscalingv2.ContainerResourceMetricSourceType:
		return describeResource(string(spec.ContainerResource.Name), spec.ContainerResource.Container, spec.ContainerResource.Target)
	case autoscalingv2.PodsMetricSourceType:
		return "pods metric " + spec.Pods.Metric.Name
	case autoscalingv2.ObjectMetricSourceType:
		return spec.Object.DescribedObject.Kind + " metric " + spec.Object.Metric.Name
	case autoscalingv2.ExternalMetricSourceType:
		return fmt.Sprintf("external metric %s(%s)", spec.External.Metric.Name, metav1.FormatLabelSelector(spec.External.Metric.Selector))
	}
	return strings.ToLower(string(spec.Type)) + " metric"
}

func describeResource(name, container string, t autoscalingv2.MetricTarget) string {
	what := name + " resource"
	if container != "" {
		what = name + " container resource"
	}
	if t.AverageUtilization != nil {
		return what + " utilization (percentage of request)"
	}
	return what
}
