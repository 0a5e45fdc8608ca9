// Package podautoscaler is the horizontal pod autoscaler: every sync period it reads the
// target's scale and its pods' metrics, computes the replica count that brings each
// metric to its target, tempers it by the HPA's behavior, and writes the scale.
package podautoscaler

import (
	"fmt"
	"maps"
	"math"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Kubernetes' defaults (kube-controller-manager flags of the same meaning).
const (
	tolerance               = 0.1
	cpuInitializationPeriod = 5 * time.Minute
	initialReadinessDelay   = 30 * time.Second
)

// podMetric is one pod's usage of a resource (millicores or bytes), as sampled at
// timestamp over window.
type podMetric struct {
	value     int64
	timestamp time.Time
	window    time.Duration
}

// podGroups sorts the target's pods for the replica calculation, as Kubernetes does:
// ready pods with metrics count; pending or not-yet-ready pods and pods without
// metrics are treated conservatively; deleted and failed pods are ignored.
type podGroups struct {
	ready   int
	unready map[string]bool
	missing map[string]bool
	ignored map[string]bool
}

func groupPods(pods []*corev1.Pod, metrics map[string]podMetric, resource corev1.ResourceName, now time.Time) podGroups {
	g := podGroups{unready: map[string]bool{}, missing: map[string]bool{}, ignored: map[string]bool{}}
	for _, pod := range pods {
		if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed {
			g.ignored[pod.Name] = true
			continue
		}
		if pod.Status.Phase == corev1.PodPending {
			g.unready[pod.Name] = true
			continue
		}
		m, ok := metrics[pod.Name]
		if !ok {
			g.missing[pod.Name] = true
			continue
		}
		if resource == corev1.ResourceCPU && cpuNotYetUsable(pod, m, now) {
			g.unready[pod.Name] = true
			continue
		}
		g.ready++
	}
	return g
}

// cpuNotYetUsable reports a pod whose CPU sample does not reflect steady load: one that
// is not ready, or that is still starting and was sampled before it became ready.
func cpuNotYetUsable(pod *corev1.Pod, m podMetric, now time.Time) bool {
	cond := readyCondition(pod)
	if cond == nil || pod.Status.StartTime == nil {
		return true
	}
	start := pod.Status.StartTime.Time
	if start.Add(cpuInitializationPeriod).After(now) {
		return cond.Status == corev1.ConditionFalse || m.timestamp.Before(cond.LastTransitionTime.Add(m.window))
	}
	return cond.Status == corev1.ConditionFalse && start.Add(initialReadinessDelay).After(cond.LastTransitionTime.Time)
}

func readyCondition(pod *corev1.Pod) *corev1.PodCondition {
	for i := range pod.Status.Conditions {
		if pod.Status.Conditions[i].Type == corev1.PodReady {
			return &pod.Status.Conditions[i]
		}
	}
	return nil
}

// podRequests sums each pod's requests of resource (of one container when container
// is set); a pod without one cannot be measured against a utilization target.
func podRequests(pods []*corev1.Pod, container string, resource corev1.ResourceName) (map[string]int64, error) {
	out := make(map[string]int64, len(pods))
	for _, pod := range pods {
		var sum int64
		for _, c := range pod.Spec.Containers {
			if container != "" && c.Name != container {
				continue
			}
			q, ok := c.Resources.Requests[resource]
			if !ok {
				return nil, fmt.Errorf("missing request for %s in container %s of Pod %s", resource, c.Name, pod.Name)
			}
			sum += q.MilliValue()
		}
		out[pod.Name] = sum
	}
	return out, nil
}

// utilization is the metrics' usage as a percentage of the pods' requests, the ratio
// of that to the target percentage, and the average usage per pod.
func utilization(metrics map[string]podMetric, requests map[string]int64, target int32) (ratio float64, percent int32, avg int64, err error) {
	var used, requested int64
	for name, m := range metrics {
		r, ok := requests[name]
		if !ok {
			continue
		}
		used += m.value
		requested += r
	}
	if requested == 0 {
		return 0, 0, 0, fmt.Errorf("no metrics returned matched known pods")
	}
	percent = int32(used * 100 / requested)
	return float64(percent) / float64(target), percent, used / int64(len(metrics)), nil
}

// averageOf is the metrics' average usage per pod.
func averageOf(metrics map[string]podMetric) int64 {
	var sum int64
	for _, m := range metrics {
		sum += m.value
	}
	return sum / int64(max(len(metrics), 1))
}

// replicaProposal is what one metric asks for, with the usage that led to it.
type replicaProposal struct {
	replicas int32
	percent  int32 // average utilization, when the target is one
	average  int64 // average usage per pod, in milli-units
}

// utilizationReplicas is the replica count that brings the average utilization of
// resource to target percent of the pods' requests.
func utilizationReplicas(current, target int32, resource corev1.ResourceName, container string,
	pods []*corev1.Pod, metrics map[string]podMetric, now time.Time) (replicaProposal, error) {
	if len(pods) == 0 {
		return replicaProposal{}, fmt.Errorf("no pods returned by selector while calculating replica count")
	}
	requests, err := podRequests(pods, container, resource)
	if err != nil {
		return replicaProposal{}, err
	}
	ratioOf := func(ms map[string]podMetric) (float64, error) {
		r, _, _, err := utilization(ms, requests, target)
		return r, err
	}
	assumed := func(pod string) int64 { return requests[pod] * int64(max(100, target)) / 100 }
	g := groupPods(pods, metrics, resource, now)
	usable := withoutPods(metrics, g.unready, g.ignored)
	n, err := replicasFor(current, g, usable, ratioOf, assumed)
	if err != nil {
		return replicaProposal{}, err
	}
	_, percent, avg, _ := utilization(usable, requests, target)
	return replicaProposal{replicas: n, percent: percent, average: avg}, nil
}

// averageValueReplicas is the replica count that brings resource's average usage per
// pod (in milli-units) to target.
func averageValueReplicas(current int32, target int64, resource corev1.ResourceName, pods []*corev1.Pod,
	metrics map[string]podMetric, now time.Time) (replicaProposal, error) {
	ratioOf := func(ms map[string]podMetric) (float64, error) {
		return float64(averageOf(ms)) / float64(target), nil
	}
	g := groupPods(pods, metrics, resource, now)
	usable := withoutPods(metrics, g.unready, g.ignored)
	n, err := replicasFor(current, g, usable, ratioOf, func(string) int64 { return target })
	if err != nil {
		return replicaProposal{}, err
	}
	return replicaProposal{replicas: n, average: averageOf(usable)}, nil
}

// replicasFor turns a usage ratio into a replica count. Within the tolerance nothing
// changes. Pods without metrics count as using assumed(pod) when scaling down and
// nothing when scaling up, and unready pods as using nothing when scaling up, so the
// autoscaler does not overreact to pods it cannot see; if that conservative view
// no longer asks to move, or reverses the move, the count stays.
func replicasFor(current int32, g podGroups, metrics map[string]podMetric,
	ratioOf func(map[string]podMetric) (float64, error), assumed func(pod string) int64) (int32, error) {
	if len(metrics) == 0 {
		return 0, fmt.Errorf("did not receive metrics for targeted pods (pods might be unready)")
	}
	ratio, err := ratioOf(metrics)
	if err != nil {
		return 0, err
	}
	scaleUpWithUnready := len(g.unready) > 0 && ratio > 1.0
	if !scaleUpWithUnready && len(g.missing) == 0 {
		if math.Abs(1.0-ratio) <= tolerance {
			return current, nil
		}
		return int32(math.Ceil(ratio * float64(g.ready))), nil
	}
	all := maps.Clone(metrics)
	for name := range g.missing {
		if ratio < 1.0 {
			all[name] = podMetric{value: assumed(name)}
		} else {
			all[name] = podMetric{}
		}
	}
	if scaleUpWithUnready {
		for name := range g.unready {
			all[name] = podMetric{}
		}
	}
	newRatio, err := ratioOf(all)
	if err != nil {
		return 0, err
	}
	if math.Abs(1.0-newRatio) <= tolerance || (ratio < 1.0 && newRatio > 1.0) || (ratio > 1.0 && newRatio < 1.0) {
		return current, nil
	}
	n := int32(math.Ceil(newRatio * float64(len(all))))
	if (newRatio < 1.0 && n > current) || (newRatio > 1.0 && n < current) {
		return current, nil
	}
	return n, nil
}

func withoutPods(metrics map[string]podMetric, sets ...map[string]bool) map[string]podMetric {
	out := make(map[string]podMetric, len(metrics))
	for name, m := range metrics {
		drop := false
		for _, s := range sets {
			drop = drop || s[name]
		}
		if !drop {
			out[name] = m
		}
	}
	return out
}
