package podautoscaler

import (
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// defaultScaleDownWindow is kube-controller-manager's
// --horizontal-pod-autoscaler-downscale-stabilization.
const defaultScaleDownWindow = 300 * time.Second

// recommendation is a replica count the metrics asked for at some time.
type recommendation struct {
	at       time.Time
	replicas int32
}

// scaleEvent is a change the autoscaler made: replicas added (up) or removed (down).
type scaleEvent struct {
	at     time.Time
	change int32
}

// history is what the autoscaler remembers of one HPA between syncs.
type history struct {
	recommendations []recommendation
	up, down        []scaleEvent
}

// limit is a bound the behavior put on the desired count, for the ScalingLimited
// condition; reason is empty when the count is within range.
type limit struct {
	reason, message string
}

// stabilize keeps the count from flapping: it follows a rise only as far as the
// lowest recommendation within the scale-up window, and a fall only as far as the
// highest within the scale-down window. The new recommendation joins the history
// (reusing a slot older than both windows).
func (h *history) stabilize(now time.Time, current, desired int32, upWindow, downWindow time.Duration) int32 {
	up, down := desired, desired
	upCutoff, downCutoff := now.Add(-upWindow), now.Add(-downWindow)
	old := -1
	for i, r := range h.recommendations {
		if r.at.After(upCutoff) {
			up = min(up, r.replicas)
		}
		if r.at.After(downCutoff) {
			down = max(down, r.replicas)
		}
		if r.at.Before(upCutoff) && r.at.Before(downCutoff) {
			old = i
		}
	}
	rec := recommendation{at: now, replicas: desired}
	if old >= 0 {
		h.recommendations[old] = rec
	} else {
		h.recommendations = append(h.recommendations, rec)
	}
	return min(max(current, up), down)
}

// limitRate bounds desired by the behavior's scaling policies and by min/max.
func (h *history) limitRate(now time.Time, b *autoscalingv2.HorizontalPodAutoscalerBehavior, current, desired, minReplicas, maxReplicas int32) (int32, limit) {
	switch {
	case desired > current:
		ceiling := max(scaleUpLimit(now, current, h.up, h.down, b.ScaleUp), current)
		if maxReplicas <= ceiling {
			if desired > maxReplicas {
				return maxReplicas, limit{"TooManyReplicas", "the desired replica count is more than the maximum replica count"}
			}
		} else if desired > ceiling {
			return ceiling, limit{"ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"}
		}
	case desired < current:
		floor := min(scaleDownLimit(now, current, h.up, h.down, b.ScaleDown), current)
		if minReplicas >= floor {
			if desired < minReplicas {
				return minReplicas, limit{"TooFewReplicas", "the desired replica count is less than the minimum replica count"}
			}
		} else if desired < floor {
			return floor, limit{"ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"}
		}
	}
	return desired, limit{}
}

// scaleUpLimit is the most replicas the policies allow now: each policy allows its
// step on top of the count at the start of its period; selectPolicy picks among them.
func scaleUpLimit(now time.Time, current int32, up, down []scaleEvent, r *autoscalingv2.HPAScalingRules) int32 {
	return policyLimit(now, current, up, down, r, true)
}

// scaleDownLimit is the fewest replicas the policies allow now.
func scaleDownLimit(now time.Time, current int32, up, down []scaleEvent, r *autoscalingv2.HPAScalingRules) int32 {
	return policyLimit(now, current, up, down, r, false)
}

func policyLimit(now time.Time, current int32, up, down []scaleEvent, r *autoscalingv2.HPAScalingRules, rising bool) int32 {
	sel := autoscalingv2.MaxChangePolicySelect
	if r.SelectPolicy != nil {
		sel = *r.SelectPolicy
	}
	if sel == autoscalingv2.DisabledPolicySelect {
		return current
	}
	// "Max" picks the policy that allows the largest change: the highest ceiling when
	// rising, the lowest floor when falling.
	pickHigher := (sel == autoscalingv2.MaxChangePolicySelect) == rising
	result := int32(math.MinInt32)
	if !pickHigher {
		result = math.MaxInt32
	}
	for _, p := range r.Policies {
		period := time.Duration(p.PeriodSeconds) * time.Second
		start := current - changedWithin(now, period, up) + changedWithin(now, period, down)
		var proposed int32
		switch {
		case p.Type == autoscalingv2.PodsScalingPolicy && rising:
			proposed = start + p.Value
		case p.Type == autoscalingv2.PodsScalingPolicy:
			proposed = start - p.Value
		case rising:
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		default:
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		if pickHigher {
			result = max(result, proposed)
		} else {
			result = min(result, proposed)
		}
	}
	return result
}

func changedWithin(now time.Time, period time.Duration, events []scaleEvent) int32 {
	var n int32
	for _, e := range events {
		if e.at.After(now.Add(-period)) {
			n += e.change
		}
	}
	return n
}

// record notes a change from prev to cur replicas, forgetting events older than any
// policy's period.
func (h *history) record(now time.Time, b *autoscalingv2.HorizontalPodAutoscalerBehavior, prev, cur int32) {
	keep := func(events []scaleEvent, r *autoscalingv2.HPAScalingRules) []scaleEvent {
		var longest time.Duration
		for _, p := range r.Policies {
			longest = max(longest, time.Duration(p.PeriodSeconds)*time.Second)
		}
		out := events[:0]
		for _, e := range events {
			if e.at.After(now.Add(-longest)) {
				out = append(out, e)
			}
		}
		return out
	}
	h.up, h.down = keep(h.up, b.ScaleUp), keep(h.down, b.ScaleDown)
	switch {
	case cur > prev:
		h.up = append(h.up, scaleEvent{at: now, change: cur - prev})
	case cur < prev:
		h.down = append(h.down, scaleEvent{at: now, change: prev - cur})
	}
}

// windows are the stabilization windows of b, with the controller's scale-down default.
func windows(b *autoscalingv2.HorizontalPodAutoscalerBehavior) (up, down time.Duration) {
	down = defaultScaleDownWindow
	if w := b.ScaleDown.StabilizationWindowSeconds; w != nil {
		down = time.Duration(*w) * time.Second
	}
	if w := b.ScaleUp.StabilizationWindowSeconds; w != nil {
		up = time.Duration(*w) * time.Second
	}
	return up, down
}
