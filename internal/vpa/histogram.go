package vpa

import (
	"math"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Histogram is a decaying histogram over exponentially growing buckets, as the VPA
// recommender keeps per container: a sample's weight doubles every half-life after
// the reference time, so that, relative to each other, older samples count half as
// much per half-life. Weights are renormalised (the reference moved forward) before
// they grow too large for a float.
type Histogram struct {
	opts      BucketOptions
	halfLife  time.Duration
	reference time.Time
	weights   []float64
	total     float64
}

// BucketOptions: bucket 0 covers [0, First); bucket i ends First*(Ratio^(i+1)-1)/(Ratio-1).
type BucketOptions struct {
	First, Ratio, Max float64
}

// Upstream's buckets: CPU from 10 millicores growing by 5% up to 1000 cores, memory
// from 10 MB growing by 5% up to 1 TB; both decay with a half-life of 24 hours.
var (
	CPUBuckets      = BucketOptions{First: 0.01, Ratio: 1.05, Max: 1000}
	MemoryBuckets   = BucketOptions{First: 1e7, Ratio: 1.05, Max: 1e12}
	DefaultHalfLife = 24 * time.Hour
)

func (o BucketOptions) count() int {
	return int(math.Ceil(math.Log(o.Max*(o.Ratio-1)/o.First+1)/math.Log(o.Ratio))) + 1
}

// bucketEnd is the upper bound of bucket i.
func (o BucketOptions) bucketEnd(i int) float64 {
	return o.First * (math.Pow(o.Ratio, float64(i+1)) - 1) / (o.Ratio - 1)
}

func (o BucketOptions) bucket(v float64) int {
	if v < o.First {
		return 0
	}
	i := int(math.Floor(math.Log(v*(o.Ratio-1)/o.First+1) / math.Log(o.Ratio)))
	return min(i, o.count()-1)
}

// NewHistogram returns an empty histogram.
func NewHistogram(opts BucketOptions, halfLife time.Duration) *Histogram {
	return &Histogram{opts: opts, halfLife: halfLife, weights: make([]float64, opts.count())}
}

// maxDecayExponent bounds 2^((t-reference)/halfLife) before renormalising.
const maxDecayExponent = 100

// Add records value v with weight w at time t.
func (h *Histogram) Add(v, w float64, t time.Time) {
	if w <= 0 {
		return
	}
	if h.reference.IsZero() {
		h.reference = t.Truncate(h.halfLife)
	}
	if exp := t.Sub(h.reference).Hours() / h.halfLife.Hours(); exp > maxDecayExponent {
		h.shiftReference(t.Truncate(h.halfLife))
	}
	w *= math.Exp2(t.Sub(h.reference).Hours() / h.halfLife.Hours())
	h.weights[h.opts.bucket(v)] += w
	h.total += w
}

func (h *Histogram) shiftReference(to time.Time) {
	f := math.Exp2(-to.Sub(h.reference).Hours() / h.halfLife.Hours())
	for i := range h.weights {
		h.weights[i] *= f
	}
	h.total *= f
	h.reference = to
}

// Empty reports a histogram with no weight worth counting.
func (h *Histogram) Empty() bool { return h.total < 1e-10 }

// Percentile returns the end of the bucket in which the cumulative weight reaches
// fraction p of the total: an estimate that errs on the high side, by at most one
// bucket (5%).
func (h *Histogram) Percentile(p float64) float64 {
	if h.Empty() {
		return 0
	}
	want := p * h.total
	var sum float64
	for i, w := range h.weights {
		sum += w
		if sum >= want && w > 0 {
			return h.opts.bucketEnd(i)
		}
	}
	return h.opts.bucketEnd(len(h.weights) - 1)
}

// MaxCheckpointWeight is the weight of a checkpoint's heaviest bucket.
const MaxCheckpointWeight = 10000

// Checkpoint stores the histogram with integer weights relative to its heaviest
// bucket (tiny buckets round to nothing and are dropped), as upstream does.
func (h *Histogram) Checkpoint() HistogramCheckpoint {
	cp := HistogramCheckpoint{ReferenceTimestamp: metav1.NewTime(h.reference), BucketWeights: map[int]uint32{}, TotalWeight: h.total}
	var top float64
	for _, w := range h.weights {
		top = max(top, w)
	}
	if top == 0 {
		return cp
	}
	for i, w := range h.weights {
		if v := uint32(math.Round(w / top * MaxCheckpointWeight)); v > 0 {
			cp.BucketWeights[i] = v
		}
	}
	return cp
}

// Restore replaces the histogram's contents with a checkpoint's.
func (h *Histogram) Restore(cp HistogramCheckpoint) {
	h.weights = make([]float64, h.opts.count())
	h.total, h.reference = 0, cp.ReferenceTimestamp.Time
	var sum float64
	for i, v := range cp.BucketWeights {
		if i >= 0 && i < len(h.weights) {
			sum += float64(v)
		}
	}
	if sum == 0 {
		return
	}
	// Scale so the buckets add up to the stored total weight.
	for i, v := range cp.BucketWeights {
		if i >= 0 && i < len(h.weights) {
			h.weights[i] = float64(v) / sum * cp.TotalWeight
		}
	}
	h.total = cp.TotalWeight
}
