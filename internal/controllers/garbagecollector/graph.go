package garbagecollector

import (
	"slices"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// ref identifies an object: what an owner reference names, plus the namespace it is
// looked up in (the dependent's, for a namespaced owner).
type ref struct {
	APIVersion, Kind string
	Namespace, Name  string
	UID              types.UID
}

// node is one object in the ownership graph.
type node struct {
	ref ref
	// gvr is known for objects seen through an informer; virtual nodes have none.
	gvr    schema.GroupVersionResource
	owners []metav1.OwnerReference
	// dependents are the nodes that name this one as an owner; nil until one
	// does, as for most objects (every pod of a cluster has a node here).
	dependents map[types.UID]*node
	// virtual nodes are owners only known from the references to them: whether they
	// exist is checked against the API server.
	virtual            bool
	beingDeleted       bool
	deletingDependents bool // deleting, with the foregroundDeletion finalizer
	orphaning          bool // deleting, with the orphan finalizer
}

// graph is the ownership graph built from informer events. The collector's decisions
// are made against the API server; the graph only says who depends on whom.
type graph struct {
	mu    sync.RWMutex
	nodes map[types.UID]*node
}

func newGraph() *graph { return &graph{nodes: map[types.UID]*node{}} }

// work is what an observation asks the collector to look at.
type work struct {
	attemptDelete []types.UID
	orphan        []types.UID
}

func (w *work) delete(uids ...types.UID) { w.attemptDelete = append(w.attemptDelete, uids...) }

// observed is an object as an informer reports it.
type observed struct {
	gvr        schema.GroupVersionResource
	apiVersion string
	kind       string
	obj        metav1.Object
}

// upsert records an added or updated object.
func (g *graph) upsert(o observed) work {
	g.mu.Lock()
	defer g.mu.Unlock()
	var w work
	m := o.obj
	uid := m.GetUID()
	n := g.nodes[uid]
	if n == nil {
		n = &node{}
		g.nodes[uid] = n
	}
	n.ref = ref{APIVersion: o.apiVersion, Kind: o.kind, Namespace: m.GetNamespace(), Name: m.GetName(), UID: uid}
	n.gvr, n.virtual = o.gvr, false
	g.setOwners(n, m.GetOwnerReferences(), &w)

	wasDeletingDependents := n.deletingDependents
	n.beingDeleted = m.GetDeletionTimestamp() != nil
	n.deletingDependents = n.beingDeleted && slices.Contains(m.GetFinalizers(), metav1.FinalizerDeleteDependents)
	n.orphaning = n.beingDeleted && slices.Contains(m.GetFinalizers(), metav1.FinalizerOrphanDependents)
	if n.deletingDependents && !wasDeletingDependents {
		// Foreground deletion starts: every dependent must go, and the owner waits.
		for d := range n.dependents {
			w.delete(d)
		}
		w.delete(uid)
	}
	if n.orphaning {
		w.orphan = append(w.orphan, uid)
	}
	return w
}

// setOwners links n to its owners, creating virtual nodes for owners not seen yet and
// waking owners that waited on n when n stops blocking them.
func (g *graph) setOwners(n *node, refs []metav1.OwnerReference, w *work) {
	uid := n.ref.UID
	newRefs := map[types.UID]metav1.OwnerReference{}
	for _, r := range refs {
		newRefs[r.UID] = r
	}
	for _, old := range n.owners {
		nr, kept := newRefs[old.UID]
		owner := g.nodes[old.UID]
		if owner == nil || (kept && !(blocks(old) && !blocks(nr))) {
			continue
		}
		if !kept {
			delete(owner.dependents, uid)
			g.dropIfUnneeded(owner)
		}
		if owner.deletingDependents {
			w.delete(owner.ref.UID)
		}
	}
	for _, r := range refs {
		owner := g.nodes[r.UID]
		if owner == nil {
			owner = &node{virtual: true,
				ref: ref{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: n.ref.Namespace, Name: r.Name, UID: r.UID}}
			g.nodes[r.UID] = owner
			w.delete(r.UID) // does it exist at all?
		}
		if owner.dependents == nil {
			owner.dependents = map[types.UID]*node{}
		}
		owner.dependents[uid] = n
	}
	n.owners = slices.Clone(refs)
}

func blocks(r metav1.OwnerReference) bool {
	return r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion
}

// dropIfUnneeded forgets a virtual node nothing refers to anymore.
func (g *graph) dropIfUnneeded(n *node) {
	if n.virtual && len(n.dependents) == 0 {
		delete(g.nodes, n.ref.UID)
	}
}

// remove forgets a deleted object: its dependents lost an owner and must be judged,
// and owners waiting in the foreground may now be free to go.
func (g *graph) remove(uid types.UID) work {
	g.mu.Lock()
	defer g.mu.Unlock()
	var w work
	n := g.nodes[uid]
	if n == nil {
		return w
	}
	for _, r := range n.owners {
		owner := g.nodes[r.UID]
		if owner == nil {
			continue
		}
		delete(owner.dependents, uid)
		if owner.deletingDependents {
			w.delete(owner.ref.UID)
		}
		g.dropIfUnneeded(owner)
	}
	delete(g.nodes, uid)
	for d := range n.dependents {
		w.delete(d)
	}
	return w
}

// snapshot is a copy of a node for deciding without the lock.
type snapshot struct {
	ref                   ref
	gvr                   schema.GroupVersionResource
	virtual               bool
	dependents            []ref
	blocking              []ref // dependents whose reference to this node blocks its deletion
	dependentInForeground bool  // some dependent is itself deleting in the foreground
}

func (g *graph) get(uid types.UID) (snapshot, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := g.nodes[uid]
	if n == nil {
		return snapshot{}, false
	}
	s := snapshot{ref: n.ref, gvr: n.gvr, virtual: n.virtual}
	for _, d := range n.dependents {
		s.dependents = append(s.dependents, d.ref)
		if d.deletingDependents {
			s.dependentInForeground = true
		}
		for _, r := range d.owners {
			if r.UID == uid && blocks(r) {
				s.blocking = append(s.blocking, d.ref)
			}
		}
	}
	return s, true
}

// dependentGVR is how to reach a dependent, known because dependents are observed.
func (g *graph) gvrOf(uid types.UID) (schema.GroupVersionResource, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := g.nodes[uid]
	if n == nil || n.virtual {
		return schema.GroupVersionResource{}, false
	}
	return n.gvr, true
}

func (g *graph) isDeletingDependents(uid types.UID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := g.nodes[uid]
	return n != nil && n.deletingDependents
}

func (g *graph) size() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.nodes)
}
