package vpa

import (
	"math"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func TestHistogramPercentile(t *testing.T) {
	tests := []struct {
		name    string
		samples []float64
		p, want float64 // want is approximate: within one 5% bucket above
	}{
		{"one value", []float64{1}, 0.9, 1},
		{"uniform 1..100, median", seq(1, 100), 0.5, 50},
		{"uniform 1..100, p90", seq(1, 100), 0.9, 90},
		{"uniform 1..100, p95", seq(1, 100), 0.95, 95},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := NewHistogram(CPUBuckets, DefaultHalfLife)
			for _, v := range tt.samples {
				h.Add(v, 1, t0)
			}
			got := h.Percentile(tt.p)
			if got < tt.want || got > tt.want*1.1 {
				t.Errorf("p%.0f = %.3f, want within [%.3f, %.3f]", tt.p*100, got, tt.want, tt.want*1.1)
			}
		})
	}
}

func seq(from, to int) []float64 {
	var out []float64
	for i := from; i <= to; i++ {
		out = append(out, float64(i))
	}
	return out
}

// TestHistogramDecay: a sample one half-life newer weighs twice as much, so after
// two days of 1 core and one more day at 4 cores, the newest day holds more than half.
func TestHistogramDecay(t *testing.T) {
	h := NewHistogram(CPUBuckets, DefaultHalfLife)
	h.Add(1, 1, t0)
	h.Add(1, 1, t0.Add(24*time.Hour))
	h.Add(4, 1, t0.Add(48*time.Hour))
	// weights 1, 2, 4: the median is in the 4-core bucket.
	if got := h.Percentile(0.5); got < 4 || got > 4.2 {
		t.Errorf("median = %.3f, want the newest sample's 4 cores to dominate", got)
	}
	// Far in the future the reference moves and nothing overflows.
	h.Add(2, 1, t0.Add(200*24*time.Hour))
	if math.IsInf(h.total, 0) || math.IsNaN(h.total) || h.Percentile(0.5) < 2 || h.Percentile(0.5) > 2.1 {
		t.Errorf("after 200 days: total %v, median %.3f", h.total, h.Percentile(0.5))
	}
}

func TestHistogramCheckpointRoundTrip(t *testing.T) {
	h := NewHistogram(MemoryBuckets, DefaultHalfLife)
	for i, v := range []float64{1e8, 2e8, 2e8, 5e8} {
		h.Add(v, 1, t0.Add(time.Duration(i)*time.Minute))
	}
	r := NewHistogram(MemoryBuckets, DefaultHalfLife)
	r.Restore(h.Checkpoint())
	for _, p := range []float64{0.1, 0.5, 0.9, 0.99} {
		if a, b := h.Percentile(p), r.Percentile(p); a != b {
			t.Errorf("p%v: %v before the checkpoint, %v after", p, a, b)
		}
	}
	if math.Abs(r.total-h.total) > 1e-9 {
		t.Errorf("total weight %v, restored %v", h.total, r.total)
	}
}

func TestEstimate(t *testing.T) {
	steady := NewAggregate()
	// A day of one sample a minute at 0.5 cores and 200 MB: full confidence.
	for i := 0; i <= 24*60; i++ {
		steady.AddSample(0.5, 200e6, 0.5, t0.Add(time.Duration(i)*time.Minute))
	}
	young := NewAggregate()
	for i := 0; i < 5; i++ {
		young.AddSample(0.5, 200e6, 0.5, t0.Add(time.Duration(i)*time.Minute))
	}
	idle := NewAggregate()
	idle.AddSample(0.001, 1e6, 0, t0)
	cores := func(l corev1.ResourceList) float64 { q := l[corev1.ResourceCPU]; return q.AsApproximateFloat64() }
	bytes := func(l corev1.ResourceList) float64 { q := l[corev1.ResourceMemory]; return q.AsApproximateFloat64() }

	s := steady.Estimate(1)
	if c := cores(s.Target); c < 0.5*1.15 || c > 0.5*1.15*1.06 {
		t.Errorf("steady CPU target %.3f, want 15%% above 0.5 cores", c)
	}
	if m := bytes(s.Target); m < podMinMemory {
		t.Errorf("memory target %.0f below the pod minimum", m)
	}
	if cores(s.LowerBound) > cores(s.Target) || cores(s.UpperBound) < cores(s.Target) {
		t.Errorf("bounds %v..%v do not hold target %v", s.LowerBound, s.UpperBound, s.Target)
	}
	y := young.Estimate(1)
	if cores(y.UpperBound) <= cores(s.UpperBound) || cores(y.LowerBound) > cores(s.LowerBound) {
		t.Errorf("low confidence should widen the bounds: young %v..%v, steady %v..%v", y.LowerBound, y.UpperBound, s.LowerBound, s.UpperBound)
	}
	i := idle.Estimate(2)
	if c := i.Target[corev1.ResourceCPU]; c.MilliValue() != int64(math.Ceil(podMinCPU/2*1000)) {
		t.Errorf("idle CPU target %s, want the pod minimum shared by 2 containers (%.4f, in whole millicores)", c.String(), podMinCPU/2)
	}
}

func TestApplyPolicy(t *testing.T) {
	q := resource.MustParse
	raw := ContainerRecommendation{ContainerName: "nginx",
		Target:     corev1.ResourceList{"cpu": q("2"), "memory": q("20Mi")},
		LowerBound: corev1.ResourceList{"cpu": q("50m"), "memory": q("10Mi")},
		UpperBound: corev1.ResourceList{"cpu": q("4"), "memory": q("1Gi")}}
	off := "Off"
	cpuOnly := []corev1.ResourceName{"cpu"}
	// The seed's policy: 100m..1 CPU, 50Mi..500Mi memory.
	seed := &ContainerPolicy{ContainerName: "nginx", MinAllowed: corev1.ResourceList{"cpu": q("100m"), "memory": q("50Mi")},
		MaxAllowed: corev1.ResourceList{"cpu": q("1"), "memory": q("500Mi")}}
	tests := []struct {
		name                 string
		p                    *ContainerPolicy
		ok                   bool
		target, lower, upper corev1.ResourceList
		uncapped             corev1.ResourceList
	}{
		{"no policy", nil, true, raw.Target, raw.LowerBound, raw.UpperBound, raw.Target},
		{"seed's min and max", seed, true,
			corev1.ResourceList{"cpu": q("1"), "memory": q("50Mi")}, corev1.ResourceList{"cpu": q("100m"), "memory": q("50Mi")},
			corev1.ResourceList{"cpu": q("1"), "memory": q("500Mi")}, raw.Target},
		{"cpu only", &ContainerPolicy{ControlledResources: &cpuOnly}, true,
			corev1.ResourceList{"cpu": q("2")}, corev1.ResourceList{"cpu": q("50m")}, corev1.ResourceList{"cpu": q("4")}, corev1.ResourceList{"cpu": q("2")}},
		{"mode off", &ContainerPolicy{Mode: &off}, false, nil, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ApplyPolicy(raw, tt.p)
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			for _, c := range []struct {
				name      string
				got, want corev1.ResourceList
			}{{"target", got.Target, tt.target}, {"lowerBound", got.LowerBound, tt.lower}, {"upperBound", got.UpperBound, tt.upper}, {"uncappedTarget", got.UncappedTarget, tt.uncapped}} {
				if !sameList(c.got, c.want) {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

func sameList(a, b corev1.ResourceList) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v.Cmp(w) != 0 {
			return false
		}
	}
	return true
}

func TestContainerResourcesAndBounds(t *testing.T) {
	q := resource.MustParse
	rec := &Recommendation{ContainerRecommendations: []ContainerRecommendation{{ContainerName: "app",
		Target:     corev1.ResourceList{"cpu": q("200m"), "memory": q("256Mi")},
		LowerBound: corev1.ResourceList{"cpu": q("100m"), "memory": q("200Mi")},
		UpperBound: corev1.ResourceList{"cpu": q("400m"), "memory": q("512Mi")}}}}
	requestsOnly := "RequestsOnly"
	tests := []struct {
		name          string
		res           corev1.ResourceRequirements
		p             *ContainerPolicy
		wantReq       corev1.ResourceList
		wantLim       corev1.ResourceList
		outsideBounds bool
	}{
		{"no requests", corev1.ResourceRequirements{}, nil, rec.ContainerRecommendations[0].Target, nil, true},
		{"limits keep their ratio", corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("100m"), "memory": q("64Mi")},
			Limits: corev1.ResourceList{"cpu": q("200m"), "memory": q("128Mi")}}, nil,
			rec.ContainerRecommendations[0].Target, corev1.ResourceList{"cpu": q("400m"), "memory": q("512Mi")}, true},
		{"requests only", corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("100m"), "memory": q("64Mi")},
			Limits: corev1.ResourceList{"memory": q("128Mi")}}, &ContainerPolicy{ControlledValues: &requestsOnly},
			rec.ContainerRecommendations[0].Target, corev1.ResourceList{"memory": q("128Mi")}, true},
		{"inside the bounds", corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q("150m"), "memory": q("300Mi")}}, nil,
			rec.ContainerRecommendations[0].Target, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := &corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Resources: tt.res}}}
			var rp *ResourcePolicy
			if tt.p != nil {
				tt.p.ContainerName = "app"
				rp = &ResourcePolicy{ContainerPolicies: []ContainerPolicy{*tt.p}}
			}
			if got := OutsideBounds(spec, rec, rp); got != tt.outsideBounds {
				t.Errorf("OutsideBounds = %v, want %v", got, tt.outsideBounds)
			}
			if !ApplyToPod(spec, rec, rp) {
				t.Fatal("ApplyToPod changed nothing")
			}
			got := spec.Containers[0].Resources
			if !sameList(got.Requests, tt.wantReq) || !sameList(got.Limits, tt.wantLim) {
				t.Errorf("resources = %v / %v, want %v / %v", got.Requests, got.Limits, tt.wantReq, tt.wantLim)
			}
		})
	}
}
