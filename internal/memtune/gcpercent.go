package memtune

import (
	"context"
	"log/slog"
	"os"
	"runtime/debug"
	"time"
)

const (
	// gcHeadroom is the most garbage the heap may gather beyond what is live
	// before a collection: with the default GOGC=100 a server holding 2 GiB
	// (150,000 pods) would grow to 4 GiB between collections; small heaps,
	// whose doubling costs little, keep the default.
	gcHeadroom = 1 << 30
	// minGCPercent bounds how hard the collector is pushed for very large heaps.
	minGCPercent = 25
	gcTuneEvery  = 10 * time.Second
)

// gcPercentFor is the GOGC that lets the heap grow by at most gcHeadroom
// beyond live bytes (never more than the default 100, never under minGCPercent).
func gcPercentFor(live uint64) int {
	if live <= gcHeadroom {
		return 100
	}
	return max(minGCPercent, int(100*gcHeadroom/live))
}

// tuneGC keeps GOGC at gcPercentFor(the live heap) until ctx ends, unless the
// GOGC environment variable sets it. At idle this costs a large heap one more
// collection now and then; it saves it up to half its size in memory.
func tuneGC(ctx context.Context) {
	if _, ok := os.LookupEnv("GOGC"); ok {
		return
	}
	current := 100
	everyLiveHeap(ctx, gcTuneEvery, func(live uint64) {
		// Steps of less than 5 are not worth a change (nor a log line) each.
		if p := gcPercentFor(live); p != current && (p == 100 || p == minGCPercent || abs(p-current) >= 5) {
			debug.SetGCPercent(p)
			slog.Info("GOGC set for the live heap (the GOGC variable overrides)", "GOGC", p, "live-MiB", live>>20)
			current = p
		}
	})
}

func abs(n int) int { return max(n, -n) }
