package framework

import (
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// maxKeySets bounds how many combinations of topology keys the index follows;
// past it, callers count domains by walking the nodes.
const maxKeySets = 32

// nodeLabels counts nodes by label, so topology spread learns how many domains a
// key has without walking every node: per key, and per combination of keys a pod
// spreads over at once (a node counts there only if it carries all of them).
type nodeLabels struct {
	keys   map[string]int            // nodes carrying each key
	values map[string]map[string]int // nodes per value of each key
	byName map[string]*v1.Node       // every node, to fill a new key set
	sets   map[string]*keySet
}

// keySet counts the nodes carrying every one of keys, and their values.
type keySet struct {
	keys   []string
	nodes  int
	values []map[string]int
}

func newNodeLabels() nodeLabels {
	return nodeLabels{keys: map[string]int{}, values: map[string]map[string]int{},
		byName: map[string]*v1.Node{}, sets: map[string]*keySet{}}
}

// AddNode counts node's labels.
func (x *PodIndex) AddNode(node *v1.Node) {
	x.nodes.byName[node.Name] = node
	x.nodes.count(node, 1)
}

// RemoveNode stops counting node's labels; node must be the object that was added.
func (x *PodIndex) RemoveNode(node *v1.Node) {
	if x.nodes.byName[node.Name] == node {
		delete(x.nodes.byName, node.Name)
	}
	x.nodes.count(node, -1)
}

func (l *nodeLabels) count(node *v1.Node, delta int) {
	for k, v := range node.Labels {
		if l.keys[k] += delta; l.keys[k] <= 0 {
			delete(l.keys, k)
		}
		l.values[k] = addValue(l.values[k], v, delta)
	}
	for _, ks := range l.sets {
		ks.count(node, delta)
	}
}

func (ks *keySet) count(node *v1.Node, delta int) {
	for _, k := range ks.keys {
		if _, ok := node.Labels[k]; !ok {
			return
		}
	}
	ks.nodes += delta
	for i, k := range ks.keys {
		ks.values[i] = addValue(ks.values[i], node.Labels[k], delta)
	}
}

// addValue adds delta to m[v], dropping zeros; it returns m, made if nil.
func addValue(m map[string]int, v string, delta int) map[string]int {
	if m == nil {
		m = map[string]int{}
	}
	if m[v] += delta; m[v] <= 0 {
		delete(m, v)
	}
	return m
}

// NodesWithLabel is how many nodes carry the label key.
func (x *PodIndex) NodesWithLabel(key string) int { return x.nodes.keys[key] }

// LabelValues is how many distinct values the label key has across nodes.
func (x *PodIndex) LabelValues(key string) int { return len(x.nodes.values[key]) }

// Domains counts, among the nodes carrying every one of keys, the nodes and the
// distinct values of key (one of keys). ok is false when the index follows too
// many key combinations already; the caller walks the nodes instead.
func (x *PodIndex) Domains(keys []string, key string) (nodes, values int, ok bool) {
	uniq := slices.Compact(slices.Sorted(slices.Values(keys)))
	if len(uniq) == 1 {
		return x.NodesWithLabel(key), x.LabelValues(key), true
	}
	ks := x.nodes.keySet(uniq)
	if ks == nil {
		return 0, 0, false
	}
	return ks.nodes, len(ks.values[slices.Index(ks.keys, key)]), true
}

// keySet returns the counts for the sorted, distinct keys, starting to follow
// them (one walk over the nodes) on first use; nil past maxKeySets.
func (l *nodeLabels) keySet(keys []string) *keySet {
	sig := strings.Join(keys, "\x00")
	if ks := l.sets[sig]; ks != nil {
		return ks
	}
	if len(l.sets) >= maxKeySets {
		return nil
	}
	ks := &keySet{keys: keys, values: make([]map[string]int, len(keys))}
	for _, node := range l.byName {
		ks.count(node, 1)
	}
	l.sets[sig] = ks
	return ks
}
