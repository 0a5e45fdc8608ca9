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
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(trimInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(live)
		if small(live[0].Value.Uint64()) {
			Release()
		}
	}
}

// small tells whether a live heap is cheap enough to collect at any time.
func small(live uint64) bool { return live <= trimMaxLive }
