package store

import (
	"slices"
	"sort"
	"strings"
	"time"
)

// A view is a resource's cache at one revision, sorted by key. Lists are cut
// from views: a resource that has not changed since the last list is not sorted
// again, and the pages of a list in chunks come from the view of its first page,
// so they form one consistent snapshot without a trip to etcd.
type view struct {
	gen     uint64 // the cache's generation it was taken at
	entries []entry
}

type entry struct {
	key string
	obj *cached
}

const (
	// viewTTL is how long a view stays after its last use; a continue token that
	// finds no view is served from etcd at its revision instead.
	viewTTL = 30 * time.Second
	// viewsKept bounds how many revisions' views are kept at once.
	viewsKept = 8
)

type keptView struct {
	v    *view
	used time.Time
}

// currentView returns the cache sorted, and the revision it reflects exactly.
func (r *Resource) currentView() (*view, int64) {
	r.mu.RLock()
	rev := max(r.store.Revision(), r.lastRev)
	gen := r.gen
	r.viewMu.Lock()
	last := r.lastView
	r.viewMu.Unlock()
	var entries []entry
	if last == nil || last.gen != gen {
		entries = make([]entry, 0, len(r.objs))
		for k, c := range r.objs {
			entries = append(entries, entry{k, c})
		}
	}
	r.mu.RUnlock()
	if entries != nil {
		// Sorting outside the lock keeps writes to the cache from waiting.
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		last = &view{gen: gen, entries: entries}
	}
	r.viewMu.Lock()
	defer r.viewMu.Unlock()
	if r.lastView == nil || r.lastView.gen < last.gen {
		r.lastView = last
	}
	r.keepView(rev, last)
	return last, rev
}

// viewAt returns the view a continue token's revision was listed from, if kept.
func (r *Resource) viewAt(rev int64) (*view, bool) {
	r.viewMu.Lock()
	defer r.viewMu.Unlock()
	k, ok := r.views[rev]
	if ok {
		k.used = time.Now()
		r.views[rev] = k
	}
	return k.v, ok
}

// keepView remembers v as the view of rev, dropping views unused for viewTTL
// and, beyond viewsKept, the least recently used. Called with viewMu held.
func (r *Resource) keepView(rev int64, v *view) {
	now := time.Now()
	if r.views == nil {
		r.views = map[int64]keptView{}
	}
	r.views[rev] = keptView{v: v, used: now}
	for rv, k := range r.views {
		if now.Sub(k.used) > viewTTL {
			delete(r.views, rv)
		}
	}
	for len(r.views) > viewsKept {
		oldest := rev
		for rv, k := range r.views {
			if k.used.Before(r.views[oldest].used) {
				oldest = rv
			}
		}
		delete(r.views, oldest)
	}
}

// dropViews forgets every view (the cache was reloaded).
func (r *Resource) dropViews() {
	r.viewMu.Lock()
	r.views, r.lastView = nil, nil
	r.viewMu.Unlock()
}

// page cuts from v the objects under prefix from the key start on, as List
// answers them: at most o.Limit (0: all), with a continue token when more follow.
// Only a filter makes it decode objects (those not kept decoded).
func (r *Resource) page(v *view, rev int64, prefix, start string, o ListOptions) ([]item, string) {
	e := v.entries
	i := sort.Search(len(e), func(i int) bool { return e[i].key >= max(start, prefix) })
	var out []item
	for ; i < len(e) && strings.HasPrefix(e[i].key, prefix); i++ {
		it := item{key: e[i].key, c: e[i].obj}
		if o.Filter != nil {
			if it.obj = r.mustObject(it.key, it.c); it.obj == nil || !o.Filter(it.obj) {
				continue
			}
			if o.encoded {
				it.obj = nil
			}
		}
		out = append(out, it)
		if o.Limit > 0 && int64(len(out)) == o.Limit {
			if i+1 == len(e) || !strings.HasPrefix(e[i+1].key, prefix) {
				break
			}
			if o.Filter == nil && o.Remaining != nil {
				end := sort.Search(len(e), func(j int) bool { return e[j].key > prefix && !strings.HasPrefix(e[j].key, prefix) })
				*o.Remaining = int64(end - i - 1)
			}
			return out, encodeContinue(continueToken{Rev: rev, Start: e[i].key + "\x00"})
		}
	}
	return out, ""
}
