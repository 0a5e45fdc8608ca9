// Package intern shares the repeated parts of objects that an in-process cache
// holds by the hundred thousand. A decoded pod carries its own copy of every
// string and map, although most of them (namespace, node name, image, labels,
// resource requests, tolerations, condition types) are the same for thousands
// of pods; with 150,000 pods in an informer those copies are more than half of
// its memory. Sharing them changes no value: a cache's objects are read-only
// to every reader (client-go's rule for informers), and a reader that changes
// an object first takes a DeepCopy, which copies shared parts too.
package intern

import (
	"slices"
	"strings"
	"sync"
	"unique"
)

// String returns the canonical copy of s. The canonical copies are held weakly
// (package unique): one no cached object uses any more is collected.
func String(s string) string {
	if s == "" {
		return s
	}
	return unique.Make(s).Value()
}

// strs interns each string of ss in place.
func strs(ss []string) {
	for i := range ss {
		ss[i] = String(ss[i])
	}
}

// maxShared bounds each table of shared values. A value that has been shared
// stays shared after the table forgets it; a full table only stops sharing new
// values until it is emptied, so an unbounded variety (say, a label holding a
// pod's own name) cannot grow it without end.
const maxShared = 1 << 14

// table holds one canonical value per key. Values are never modified once in
// the table.
type table[T any] struct {
	mu sync.Mutex
	m  map[string]T
}

// get returns the value stored under key, storing v there if there is none.
func (t *table[T]) get(key string, v T) T {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.m[key]; ok {
		return old
	}
	if t.m == nil || len(t.m) >= maxShared {
		t.m = make(map[string]T)
	}
	t.m[key] = v
	return v
}

var stringMaps table[map[string]string]

// StringMap returns the shared map equal to m (labels, annotations, node
// selectors): a small map takes a few hundred bytes however few its entries.
func StringMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return m
	}
	keys := make([]string, 0, len(m))
	n := 0
	for k, v := range m {
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n)
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(m[k])
		b.WriteByte(0)
	}
	return stringMaps.get(b.String(), m)
}
