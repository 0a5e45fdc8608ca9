package server

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

const (
	// trimInterval is how often an idle server hands its garbage back.
	trimInterval = 30 * time.Second
	// trimMaxLive bounds the live heap a trim collects: a forced collection of a
	// heap this size costs a few tens of milliseconds of CPU; above it, the
	// runtime's own pacing and soft memory limit are better judges.
	trimMaxLive = 256 << 20
)

// trimWhenIdle returns the heap's garbage to the system while the server is
// idle. The runtime collects once the heap has grown by the live heap's size
// (GOGC=100), which an idle server takes minutes to allocate: meanwhile it keeps
// up to that much garbage resident. A server that allocated at least its live
// heap since the last look has collected anyway and is left alone.
func trimWhenIdle(ctx context.Context) {
	samples := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(trimInterval)
	defer t.Stop()
	var lastAllocs uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(samples)
		allocs, live := samples[0].Value.Uint64(), samples[1].Value.Uint64()
		if quiet(allocs-lastAllocs, live) {
			debug.FreeOSMemory()
		}
		lastAllocs = allocs
	}
}

// quiet tells whether a server that allocated allocated bytes since the last
// look, with live bytes live, holds garbage the runtime is slow to return.
func quiet(allocated, live uint64) bool {
	return live <= trimMaxLive && allocated < live
}
