// Package memtune fits the Go runtime's memory use to a long-running skiff
// process (server or agent): a soft memory limit derived from the machine,
// GOGC lowered for very large heaps, and garbage handed back to the system
// while the heap is small, so that an idle process stays small.
package memtune

import (
	"context"
	"log/slog"
	"runtime/debug"
)

// Start sets the soft memory limit and, until ctx ends, keeps GOGC fitted to
// the live heap and trims a small heap every trimInterval.
func Start(ctx context.Context) {
	setMemoryLimit()
	go tuneGC(ctx)
	go trimWhenSmall(ctx)
}

// Release hands what the process no longer uses back to the system at once.
// Call it when a burst of work is over (start-up): the runtime would return
// that garbage only slowly, or never on an idle process that rarely collects.
func Release() {
	debug.FreeOSMemory()
	if err := releaseBinaryPages(); err != nil {
		slog.Warn("cannot release the binary's pages", "err", err)
	}
}
