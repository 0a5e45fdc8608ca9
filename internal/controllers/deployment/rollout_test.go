package deployment

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func ip(v int) *intstr.IntOrString     { x := intstr.FromInt32(int32(v)); return &x }
func pct(v string) *intstr.IntOrString { x := intstr.FromString(v); return &x }

func TestFenceposts(t *testing.T) {
	tests := []struct {
		name                   string
		surge, unavail         *intstr.IntOrString
		desired                int32
		wantSurge, wantUnavail int32
	}{
		{"seed zero downtime", ip(1), ip(0), 3, 1, 0},
		{"defaults 25% of 10", nil, nil, 10, 3, 2},
		{"defaults 25% of 1", nil, nil, 1, 1, 0},
		{"both zero forces one unavailable", ip(0), ip(0), 5, 0, 1},
		{"percent surge rounds up", pct("10%"), ip(0), 11, 2, 0},
		{"percent unavailable rounds down", ip(0), pct("30%"), 10, 0, 3},
		{"unavailable capped at desired", ip(0), ip(7), 4, 0, 4},
		{"100% each", pct("100%"), pct("100%"), 4, 4, 4},
		{"zero replicas", ip(1), ip(1), 0, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, u, err := Fenceposts(tt.surge, tt.unavail, tt.desired)
			if err != nil {
				t.Fatal(err)
			}
			if s != tt.wantSurge || u != tt.wantUnavail {
				t.Errorf("got surge %d unavailable %d, want %d %d", s, u, tt.wantSurge, tt.wantUnavail)
			}
		})
	}
	if _, _, err := Fenceposts(pct("abc"), nil, 3); err == nil {
		t.Error("bad percent accepted")
	}
}

func TestNewReplicaSetTarget(t *testing.T) {
	tests := []struct {
		name                             string
		desired, surge, totalPods, newRS int32
		want                             int32
	}{
		{"first step of seed rollout", 3, 1, 3, 0, 1},
		{"surge used up", 3, 1, 4, 1, 1},
		{"old scaled down makes room", 3, 1, 3, 1, 2},
		{"never past desired", 3, 5, 3, 2, 3},
		{"already desired", 3, 1, 6, 3, 3},
		{"too big shrinks to desired", 3, 1, 5, 5, 3},
		{"no surge waits", 4, 0, 4, 0, 0},
		{"fresh deployment", 10, 3, 0, 0, 10},
		{"over total because of scale down", 5, 2, 9, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NewReplicaSetTarget(tt.desired, tt.surge, tt.totalPods, tt.newRS); got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestOldReplicaSetTargets(t *testing.T) {
	tests := []struct {
		name                 string
		desired, unavailable int32
		newRS                RSCount
		old                  []RSCount
		want                 []int32
	}{
		{"new pod not ready yet: keep all old", 3, 0, RSCount{1, 0}, []RSCount{{3, 3}}, []int32{3}},
		{"new pod ready: one old goes", 3, 0, RSCount{1, 1}, []RSCount{{3, 3}}, []int32{2}},
		{"stale old status counts no more than spec", 3, 0, RSCount{1, 1}, []RSCount{{2, 3}}, []int32{2}},
		{"unavailable budget lets old go early", 4, 1, RSCount{0, 0}, []RSCount{{4, 4}}, []int32{3}},
		{"unhealthy old pods go first", 3, 0, RSCount{1, 1}, []RSCount{{3, 2}}, []int32{2}},
		{"no budget while new pods unready", 3, 0, RSCount{1, 0}, []RSCount{{3, 2}}, []int32{3}},
		{"unhealthy beyond budget stay", 4, 1, RSCount{2, 0}, []RSCount{{4, 1}}, []int32{3}},
		{"oldest replica set shrinks first", 4, 0, RSCount{2, 2}, []RSCount{{1, 1}, {3, 3}}, []int32{0, 2}},
		{"all new available: old to zero", 3, 0, RSCount{3, 3}, []RSCount{{1, 1}}, []int32{0}},
		{"nothing old", 3, 1, RSCount{3, 3}, nil, []int32{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := OldReplicaSetTargets(tt.desired, tt.unavailable, tt.newRS, tt.old)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
		})
	}
}

func TestProportionalTargets(t *testing.T) {
	tests := []struct {
		name            string
		sizes           []int32
		before, allowed int32
		want            []int32
	}{
		{"double mid-rollout", []int32{5, 8}, 13, 26, []int32{10, 16}},
		{"grow with rounding to largest", []int32{3, 4}, 7, 10, []int32{4, 6}},
		{"shrink", []int32{10, 20}, 30, 15, []int32{5, 10}},
		{"shrink to zero", []int32{2, 3}, 5, 0, []int32{0, 0}},
		{"no change", []int32{2, 3}, 5, 5, []int32{2, 3}},
		{"unknown before uses total", []int32{1, 1}, 0, 4, []int32{2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ProportionalTargets(tt.sizes, tt.before, tt.allowed)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got)\n%s", diff)
			}
			var sum int32
			for _, s := range got {
				sum += s
			}
			if sum != tt.allowed {
				t.Errorf("total %d, want %d", sum, tt.allowed)
			}
		})
	}
}

// TestRollingNeverBelowDesired plays whole rollouts step by step, with pods taking one
// step to become available, and checks the promise of each strategy: available never
// under desired-maxUnavailable, and all pods never over desired+maxSurge.
func TestRollingNeverBelowDesired(t *testing.T) {
	tests := []struct {
		name           string
		desired        int32
		surge, unavail *intstr.IntOrString
	}{
		{"seed maxSurge 1 maxUnavailable 0", 3, ip(1), ip(0)},
		{"defaults of 10", 10, nil, nil},
		{"surge only, big", 7, pct("50%"), ip(0)},
		{"unavailable only", 5, ip(0), ip(2)},
		{"single replica", 1, ip(1), ip(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			surge, unavail, _ := Fenceposts(tt.surge, tt.unavail, tt.desired)
			newRS, old := RSCount{}, RSCount{tt.desired, tt.desired}
			for step := 0; step < 100; step++ {
				if newRS.Available == tt.desired && old.Replicas == 0 {
					return
				}
				newRS.Available = newRS.Replicas // last step's pods are ready now
				newRS.Replicas = NewReplicaSetTarget(tt.desired, surge, newRS.Replicas+old.Replicas, newRS.Replicas)
				old.Replicas = OldReplicaSetTargets(tt.desired, unavail, newRS, []RSCount{old})[0]
				old.Available = min(old.Available, old.Replicas)
				if avail := newRS.Available + old.Available; avail < tt.desired-unavail {
					t.Fatalf("step %d: %d available, under %d", step, avail, tt.desired-unavail)
				}
				if all := newRS.Replicas + old.Replicas; all > tt.desired+surge {
					t.Fatalf("step %d: %d pods, over %d", step, all, tt.desired+surge)
				}
			}
			t.Fatalf("rollout did not finish: new %+v old %+v", newRS, old)
		})
	}
}
