package memtune

import (
	"context"
	"runtime/metrics"
	"time"
)

const (
	// trimInterval is how often a small server hands its garbage back.
	trimInterval = 30 * time.Second
	// trimMaxLive bounds the live heap a trim collects: a forced collection of a
	// heap this size costs a few tens of milliseconds of CPU; above it, the
	// runtime's own pacing and soft memory limit are better judges.
	trimMaxLive = 256 << 20
)

// trimWhenSmall returns the heap's garbage to the system every trimInterval
// while the live heap is small. The runtime collects once the heap has grown by
// the live heap's size (GOGC=100), which an idle server takes minutes to
// allocate: meanwhile it keeps up to that much garbage resident. On a busy small
// server the extra collection costs little (see BenchmarkIdleRSS's idle CPU).
func trimWhenSmall(ctx context.Context) {
	everyLiveHeap(ctx, trimInterval, func(live uint64) {
		if small(live) {
			Release()
		}
	})
}

// everyLiveHeap calls f with the live heap's size every interval until ctx ends.
func everyLiveHeap(ctx context.Context, interval time.Duration, f func(live uint64)) {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			return
		}
		f(sample[0].Value.Uint64())
	}
}

// small tells whether a live heap is cheap enough to collect at any time.
func small(live uint64) bool { return live <= trimMaxLive }
