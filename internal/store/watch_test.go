package store

import (
	"testing"

	"k8s.io/apimachinery/pkg/watch"
)

// TestWatcherFallsBehind: a watcher queues what its client has not taken yet, up
// to watchBuffer events; one more ends it, and its client still gets the queued
// events before learning that it must resume.
func TestWatcherFallsBehind(t *testing.T) {
	w := newWatcher(nil, nil)
	if evs, open := w.Take(); len(evs) != 0 || !open {
		t.Fatalf("a new watcher has %d events, open=%v", len(evs), open)
	}
	for i := range watchBuffer {
		if !w.send(Event{Type: watch.Added, Rev: int64(i + 1)}) {
			t.Fatalf("the watcher ended after %d events, want %d queued", i, watchBuffer)
		}
	}
	select {
	case <-w.Ready():
	default:
		t.Fatal("queued events did not make the watcher ready")
	}
	evs, open := w.Take()
	if len(evs) != watchBuffer || !open || evs[0].Rev != 1 || evs[len(evs)-1].Rev != watchBuffer {
		t.Fatalf("took %d events (open=%v), want %d in order", len(evs), open, watchBuffer)
	}
	for i := range watchBuffer {
		w.send(Event{Type: watch.Modified, Rev: int64(i)})
	}
	if w.send(Event{Type: watch.Modified}) {
		t.Fatal("a watcher more than watchBuffer events behind was not ended")
	}
	<-w.Ready()
	if evs, open := w.Take(); len(evs) != watchBuffer || open {
		t.Fatalf("an ended watcher gave %d events, open=%v; want the %d queued and the end", len(evs), open, watchBuffer)
	}
}
