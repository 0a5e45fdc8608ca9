package plugins

import fw "skiff/internal/scheduler/framework"

// normalizeMax scales scores so the highest becomes MaxScore; all zero stays zero.
func normalizeMax(scores []int64) {
	var hi int64
	for _, s := range scores {
		hi = max(hi, s)
	}
	if hi == 0 {
		return
	}
	for i := range scores {
		scores[i] = scores[i] * fw.MaxScore / hi
	}
}

// normalizeReverse maps the highest raw value to 0 and zero to MaxScore, for
// "less is better" counts.
func normalizeReverse(scores []int64) {
	var hi int64
	for _, s := range scores {
		hi = max(hi, s)
	}
	for i := range scores {
		if hi == 0 {
			scores[i] = fw.MaxScore
			continue
		}
		scores[i] = fw.MaxScore - scores[i]*fw.MaxScore/hi
	}
}

// normalizeMinMax maps [min, max] onto [0, MaxScore]; negative raw scores (from
// anti-affinity weights) are allowed.
func normalizeMinMax(scores []int64) {
	if len(scores) == 0 {
		return
	}
	lo, hi := scores[0], scores[0]
	for _, s := range scores {
		lo, hi = min(lo, s), max(hi, s)
	}
	for i := range scores {
		if hi == lo {
			scores[i] = 0
			continue
		}
		scores[i] = (scores[i] - lo) * fw.MaxScore / (hi - lo)
	}
}
