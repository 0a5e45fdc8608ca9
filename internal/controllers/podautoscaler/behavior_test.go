package podautoscaler

import (
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/utils/ptr"

	"skiff/internal/resources"
)

func TestStabilizationFollowsTheWindows(t *testing.T) {
	h := &history{}
	const up, down = 0, 300 * time.Second
	steps := []struct {
		after   time.Duration
		current int32
		desired int32
		want    int32
	}{
		{0, 5, 10, 10},                  // no up window: a rise is followed at once
		{30 * time.Second, 10, 2, 10},   // a fall waits for the highest recent recommendation
		{200 * time.Second, 10, 2, 10},  // still within 300 s of the 10
		{301 * time.Second, 10, 2, 2},   // the 10 has left the window
		{302 * time.Second, 2, 3, 3},    // and rises are followed again
		{303 * time.Second, 3, 1, 3},    // a fall right after a rise waits again
		{1000 * time.Second, 3, 1, 1},   // until the window has passed
		{1001 * time.Second, 1, 1, 1},   // steady
		{1002 * time.Second, 1, 40, 40}, // no cap here: rate limits are limitRate's job
	}
	for i, s := range steps {
		got := h.stabilize(t0.Add(s.after), s.current, s.desired, up, down)
		if got != s.want {
			t.Errorf("step %d: stabilize(current %d, desired %d) = %d, want %d", i, s.current, s.desired, got, s.want)
		}
	}
}

func TestRateLimitsWithDefaultBehavior(t *testing.T) {
	b := resources.HPABehaviorWithDefaults(nil)
	tests := []struct {
		name             string
		current, desired int32
		min, max         int32
		want             int32
		reason           string
	}{
		// Up by 4 pods or 100% per 15 s, whichever is more.
		{"small: four pods at most", 1, 10, 1, 20, 5, "ScaleUpLimit"},
		{"large: doubling at most", 10, 50, 1, 100, 20, "ScaleUpLimit"},
		{"max caps first", 10, 50, 1, 12, 12, "TooManyReplicas"},
		{"within the rate", 4, 7, 1, 10, 7, ""},
		{"down by 100% in one go, to min", 10, 0, 2, 20, 2, "TooFewReplicas"},
		{"down within range", 10, 3, 1, 20, 3, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &history{}
			got, lim := h.limitRate(t0, b, tc.current, tc.desired, tc.min, tc.max)
			if got != tc.want || lim.reason != tc.reason {
				t.Errorf("limitRate = %d (%q), want %d (%q)", got, lim.reason, tc.want, tc.reason)
			}
		})
	}
}

func TestRateLimitCountsEarlierChangesInThePeriod(t *testing.T) {
	// The example: scale up by at most 2 pods per 15 s.
	b := resources.HPABehaviorWithDefaults(&autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp: &autoscalingv2.HPAScalingRules{Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 2, PeriodSeconds: 15}}},
		ScaleDown: &autoscalingv2.HPAScalingRules{SelectPolicy: ptr.To(autoscalingv2.MinChangePolicySelect), Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: 1, PeriodSeconds: 60},
			{Type: autoscalingv2.PercentScalingPolicy, Value: 50, PeriodSeconds: 60}}},
	})
	h := &history{}
	got, _ := h.limitRate(t0, b, 2, 10, 1, 20)
	if got != 4 {
		t.Fatalf("first step = %d, want 4", got)
	}
	h.record(t0, b, 2, 4)
	if got, lim := h.limitRate(t0.Add(5*time.Second), b, 4, 10, 1, 20); got != 4 || lim.reason != "ScaleUpLimit" {
		t.Errorf("5 s later = %d (%q), want 4: the period's 2 pods are spent", got, lim.reason)
	}
	if got, _ := h.limitRate(t0.Add(16*time.Second), b, 4, 10, 1, 20); got != 6 {
		t.Errorf("16 s later = %d, want 6", got)
	}
	// Down: Min picks the policy allowing the smaller change (1 pod, not 50%)...
	if got, lim := (&history{}).limitRate(t0, b, 10, 2, 1, 20); got != 9 || lim.reason != "ScaleDownLimit" {
		t.Errorf("scale down = %d (%q), want 9 (ScaleDownLimit)", got, lim.reason)
	}
	// ...counted from the size at the start of its period: 2 pods were added within
	// the last 60 s, so the period started at 8 and may end at 7.
	if got, _ := h.limitRate(t0.Add(20*time.Second), b, 10, 2, 1, 20); got != 7 {
		t.Errorf("scale down after a rise = %d, want 7", got)
	}
	disabled := resources.HPABehaviorWithDefaults(&autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleDown: &autoscalingv2.HPAScalingRules{SelectPolicy: ptr.To(autoscalingv2.DisabledPolicySelect)}})
	if got, _ := (&history{}).limitRate(t0, disabled, 10, 2, 1, 20); got != 10 {
		t.Errorf("scale down disabled = %d, want 10", got)
	}
}
