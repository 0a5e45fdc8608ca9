package store

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
)

// watchBuffer is how many events a watcher may fall behind before it is ended; its
// client then resumes from the last resourceVersion it saw.
const watchBuffer = 4096

// Watcher receives the events of one watch request, already filtered: an object that
// stops matching arrives as Deleted, one that starts matching as Added.
type Watcher struct {
	// Rev is the revision the backlog brings the client up to.
	Rev    int64
	filter func(runtime.Object) bool
	res    *Resource
	// The backlog as snapshotted: the objects a watch starts with, or the changes
	// it resumes after; Backlog decodes them one at a time.
	initial []entry
	changes []change

	// The queue grows only as far as the watcher falls behind: an idle watcher
	// holds no buffer (there is one watcher per watch request, thousands with
	// many nodes).
	mu    sync.Mutex
	queue []Event
	ended bool
	ready chan struct{} // holds a token while events wait or once ended
}

func newWatcher(r *Resource, filter func(runtime.Object) bool) *Watcher {
	return &Watcher{res: r, filter: filter, ready: make(chan struct{}, 1)}
}

// Ready is signalled when events wait or the watcher has ended; Take them then.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Take returns the waiting events, oldest first, and whether more may follow:
// false once the watcher fell too far behind or the cache was reloaded.
func (w *Watcher) Take() ([]Event, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	evs := w.queue
	w.queue = nil
	return evs, !w.ended
}

// Stop unregisters the watcher.
func (w *Watcher) Stop() {
	w.res.mu.Lock()
	w.res.unsubscribe(w)
	w.res.mu.Unlock()
	w.stop()
}

func (w *Watcher) stop() {
	w.mu.Lock()
	w.ended = true
	w.mu.Unlock()
	w.signal()
}

func (w *Watcher) signal() {
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// send delivers ev if it concerns this watcher; false means the watcher is gone.
func (w *Watcher) send(ev Event) bool {
	ev, ok := w.filtered(ev)
	if !ok {
		return true
	}
	w.mu.Lock()
	full := len(w.queue) >= watchBuffer
	if !w.ended && !full {
		w.queue = append(w.queue, ev)
	}
	w.ended = w.ended || full
	gone := w.ended
	w.mu.Unlock()
	w.signal()
	return !gone
}

// filtered turns a raw event into what this watcher should see.
func (w *Watcher) filtered(ev Event) (Event, bool) {
	if w.filter == nil {
		return ev, true
	}
	was := ev.Prev != nil && w.filter(ev.Prev)
	switch ev.Type {
	case watch.Deleted:
		return ev, was
	default:
		is := w.filter(ev.Obj)
		switch {
		case is && was:
			ev.Type = watch.Modified
		case is:
			ev.Type = watch.Added
		case was:
			// It left the selection: tell the client it is gone, as of this revision.
			prev := ev.Obj.DeepCopyObject()
			setRV(prev, ev.Rev)
			ev = Event{Type: watch.Deleted, Key: ev.Key, Prev: prev, Rev: ev.Rev}
		default:
			return ev, false
		}
		return ev, true
	}
}

// WatchOptions select what a watch sees.
type WatchOptions struct {
	Namespace string
	// ResourceVersion to resume after; "" or "0" start with the current state as
	// Added events.
	ResourceVersion string
	// InitialEvents forces the current state first even with a resourceVersion (watch-list).
	InitialEvents bool
	Filter        func(runtime.Object) bool
}

// Watch starts a watch. Resuming from a revision older than the cache remembers is an
// error of reason Expired (410 Gone).
func (r *Resource) Watch(ctx context.Context, o WatchOptions) (*Watcher, error) {
	initial := o.InitialEvents || o.ResourceVersion == "" || o.ResourceVersion == "0"
	var from int64
	if !initial {
		if _, err := fmt.Sscan(o.ResourceVersion, &from); err != nil {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", o.ResourceVersion))
		}
		if err := r.store.waitFor(ctx, from); err != nil {
			return nil, err
		}
	}
	if o.InitialEvents && o.ResourceVersion == "" {
		if err := r.catchUp(ctx, ""); err != nil {
			return nil, err
		}
	}
	filter := o.Filter
	if o.Namespace != "" {
		ns, inner := o.Namespace, o.Filter
		filter = func(obj runtime.Object) bool { return namespaceOf(obj) == ns && (inner == nil || inner(obj)) }
	}
	w := newWatcher(r, filter)
	return r.register(w, initial, from)
}

// register subscribes the watcher and snapshots, under the cache lock, what it
// must see first, so that no event falls between the snapshot and the
// subscription; Backlog decodes the snapshot.
func (r *Resource) register(w *Watcher, initial bool, from int64) (*Watcher, error) {
	r.mu.Lock()
	w.Rev = r.store.Revision()
	var entries []entry
	var changes []change
	if initial {
		entries = make([]entry, 0, len(r.objs))
		for k, c := range r.objs {
			entries = append(entries, entry{k, c})
		}
	} else {
		if from < r.oldest {
			r.mu.Unlock()
			return nil, apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", from, r.oldest))
		}
		changes = r.since(from)
	}
	if r.watchers == nil {
		r.watchers = map[*Watcher]struct{}{}
	}
	r.watchers[w] = struct{}{}
	if w.filter != nil {
		r.filtered++
	}
	r.mu.Unlock()
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
	w.initial, w.changes = entries, changes
	return w, nil
}

// Backlog yields, decoded one at a time, the events to send before anything Take
// returns: a watch of many objects never holds them all decoded. It can be
// ranged over once.
func (w *Watcher) Backlog() iter.Seq[Event] {
	return func(yield func(Event) bool) {
		initial, changes := w.initial, w.changes
		w.initial, w.changes = nil, nil
		for _, e := range initial {
			obj := w.res.mustObject(e.key, e.obj)
			if obj != nil && (w.filter == nil || w.filter(obj)) {
				if !yield(Event{Type: watch.Added, Key: e.key, Obj: obj}) {
					return
				}
			}
		}
		for _, ch := range changes {
			ev, ok := w.res.event(ch)
			if !ok {
				continue
			}
			if fev, ok := w.filtered(ev); ok && !yield(fev) {
				return
			}
		}
	}
}

// unsubscribe removes w from the watchers; called with r.mu held.
func (r *Resource) unsubscribe(w *Watcher) {
	if _, ok := r.watchers[w]; !ok {
		return
	}
	delete(r.watchers, w)
	if w.filter != nil {
		r.filtered--
	}
}

func namespaceOf(obj runtime.Object) string {
	if m, err := meta.Accessor(obj); err == nil {
		return m.GetNamespace()
	}
	return ""
}

// since returns the remembered changes after revision from, oldest first.
func (r *Resource) since(from int64) []change {
	var out []change
	n := len(r.history)
	for i := range n {
		ch := r.history[i]
		if n == historySize {
			ch = r.history[(r.next+i)%historySize]
		}
		if ch.rev > from {
			out = append(out, ch)
		}
	}
	return out
}
