package deployment

import (
	"fmt"
	"math"
	"sort"

	"k8s.io/apimachinery/pkg/util/intstr"
)

// The rollout arithmetic, free of I/O: given counts, how big each ReplicaSet should
// be. The sync code reads the counts from the cache and writes the answers back.

// Fenceposts resolves maxSurge (rounded up) and maxUnavailable (rounded down) against
// desired replicas. Both zero would forbid any progress, so maxUnavailable becomes 1.
func Fenceposts(maxSurge, maxUnavailable *intstr.IntOrString, desired int32) (surge, unavailable int32, err error) {
	s, err := scaled(maxSurge, desired, true)
	if err != nil {
		return 0, 0, fmt.Errorf("maxSurge: %w", err)
	}
	u, err := scaled(maxUnavailable, desired, false)
	if err != nil {
		return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return s, min(u, max(desired, 1)), nil
}

func scaled(v *intstr.IntOrString, total int32, roundUp bool) (int32, error) {
	if v == nil {
		// The API server defaults both to 25%.
		v = &intstr.IntOrString{Type: intstr.String, StrVal: "25%"}
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, int(total), roundUp)
	return int32(max(n, 0)), err
}

// NewReplicaSetTarget is the size the new ReplicaSet may grow to now: up to desired,
// while all pods (of every ReplicaSet, by spec) stay within desired+surge.
func NewReplicaSetTarget(desired, surge, totalPods, newRS int32) int32 {
	if newRS >= desired {
		return desired
	}
	room := desired + surge - totalPods
	if room <= 0 {
		return newRS
	}
	return newRS + min(room, desired-newRS)
}

// RSCount is what the arithmetic needs to know of one ReplicaSet.
type RSCount struct {
	Replicas  int32 // spec.replicas
	Available int32 // available pods, never more than Replicas
}

// OldReplicaSetTargets are the sizes the old ReplicaSets (oldest first) may shrink to
// now without the available pods of the Deployment falling below desired-unavailable.
// Unavailable old pods go first, as they cost nothing; then available ones, oldest
// ReplicaSet first, as far as the new ReplicaSet's available pods allow.
func OldReplicaSetTargets(desired, unavailable int32, newRS RSCount, old []RSCount) []int32 {
	out := make([]int32, len(old))
	all, available := newRS.Replicas, newRS.Available
	for i, rs := range old {
		out[i] = rs.Replicas
		all += rs.Replicas
		available += min(rs.Available, rs.Replicas)
	}
	minAvailable := desired - unavailable
	// Pods that may go at all: keep minAvailable, and count the new ReplicaSet's
	// not-yet-available pods as if they were needed.
	budget := all - minAvailable - (newRS.Replicas - newRS.Available)
	if budget <= 0 {
		return out
	}
	for i, rs := range old {
		unhealthy := rs.Replicas - min(rs.Available, rs.Replicas)
		cut := min(unhealthy, budget)
		out[i] -= cut
		budget -= cut
	}
	spare := available - minAvailable
	for i := range old {
		if spare <= 0 {
			break
		}
		cut := min(out[i], spare)
		out[i] -= cut
		spare -= cut
	}
	return out
}

// ProportionalTargets spreads a change of the Deployment's size over its active
// ReplicaSets in proportion to their sizes, so that a scale in the middle of a
// rollout neither favours the new pods nor the old. sizes are the ReplicaSets'
// replicas, allowed is desired+surge, and before is the allowed size the sizes were
// set for (the max-replicas annotation). The ReplicaSets' total becomes allowed.
func ProportionalTargets(sizes []int32, before, allowed int32) []int32 {
	out := append([]int32(nil), sizes...)
	var total int32
	for _, s := range sizes {
		total += s
	}
	delta := allowed - total
	if delta == 0 || len(sizes) == 0 {
		return out
	}
	if before <= 0 {
		before = max(total, 1)
	}
	// Largest first takes the rounding leftovers on growth, smallest first on shrink,
	// so the ReplicaSet that matters most moves least surprisingly.
	order := make([]int, len(sizes))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		if delta > 0 {
			return sizes[order[a]] > sizes[order[b]]
		}
		return sizes[order[a]] < sizes[order[b]]
	})
	var moved int32
	for _, i := range order {
		share := int32(math.Round(float64(sizes[i])*float64(allowed)/float64(before))) - sizes[i]
		if delta > 0 {
			share = max(min(share, delta-moved), 0)
		} else {
			share = min(max(share, delta-moved), 0)
		}
		out[i] += share
		moved += share
	}
	// Whatever rounding left over goes to the first ReplicaSet in order that can take it.
	for _, i := range order {
		if moved == delta {
			break
		}
		step := delta - moved
		if out[i]+step < 0 {
			step = -out[i]
		}
		out[i] += step
		moved += step
	}
	return out
}
