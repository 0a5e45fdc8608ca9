package garbagecollector

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// attemptToDelete decides the fate of one object: a virtual owner is checked for
// existence; an object deleting in the foreground waits for its blocking dependents;
// any other object is deleted when none of its owners remains.
func (gc *Collector) attemptToDelete(ctx context.Context, uid types.UID) error {
	n, ok := gc.graph.get(uid)
	if !ok {
		return nil
	}
	if n.virtual {
		return gc.checkVirtual(ctx, n)
	}
	latest, err := gc.md.Resource(n.gvr).Namespace(n.ref.Namespace).Get(ctx, n.ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && latest.UID != uid) {
		// Gone before the informer said so: its dependents need judging now.
		gc.enqueue(gc.graph.remove(uid))
		return nil
	}
	if err != nil {
		return err
	}
	if latest.DeletionTimestamp != nil {
		if slices.Contains(latest.Finalizers, metav1.FinalizerDeleteDependents) {
			return gc.processDeletingDependents(ctx, n)
		}
		return nil // already going
	}
	if len(latest.OwnerReferences) == 0 {
		return nil
	}
	solid, dangling, waiting, err := gc.classify(ctx, latest.Namespace, latest.OwnerReferences)
	if err != nil {
		return err
	}
	switch {
	case len(solid) > 0:
		if len(dangling)+len(waiting) == 0 {
			return nil
		}
		// Still owned: only forget the owners that are gone or going.
		return gc.patchOwners(ctx, n, latest.ResourceVersion, solid)
	case len(waiting) > 0 && len(n.dependents) > 0:
		if n.dependentInForeground {
			// A dependent also waits in the foreground: unblock our owners so that two
			// foreground deletions cannot wait on each other forever.
			if err := gc.patchOwners(ctx, n, latest.ResourceVersion, unblocked(latest.OwnerReferences)); err != nil {
				return err
			}
		}
		return gc.deleteObject(ctx, n, "", metav1.DeletePropagationForeground)
	default:
		return gc.deleteObject(ctx, n, latest.ResourceVersion, policyFor(latest.Finalizers))
	}
}

// policyFor keeps a cascade the object asked for through its own finalizers.
func policyFor(finalizers []string) metav1.DeletionPropagation {
	switch {
	case slices.Contains(finalizers, metav1.FinalizerOrphanDependents):
		return metav1.DeletePropagationOrphan
	case slices.Contains(finalizers, metav1.FinalizerDeleteDependents):
		return metav1.DeletePropagationForeground
	}
	return metav1.DeletePropagationBackground
}

func unblocked(refs []metav1.OwnerReference) []metav1.OwnerReference {
	out := slices.Clone(refs)
	f := false
	for i := range out {
		if blocks(out[i]) {
			out[i].BlockOwnerDeletion = &f
		}
	}
	return out
}

// checkVirtual looks up an owner known only from references. If it does not exist,
// its dependents are judged.
func (gc *Collector) checkVirtual(ctx context.Context, n snapshot) error {
	exists, _, err := gc.lookupOwner(ctx, n.ref.Namespace, metav1.OwnerReference{
		APIVersion: n.ref.APIVersion, Kind: n.ref.Kind, Name: n.ref.Name, UID: n.ref.UID})
	if err != nil {
		return err
	}
	if exists {
		// No informer has seen it yet: its kind may be one discovery has not
		// brought in (a new custom resource). Look again later, or its deletion
		// would go unnoticed and its dependents would stay.
		gc.deleteQ.AddAfter(n.ref.UID, gc.opts.Rediscover)
		return nil
	}
	gc.enqueue(gc.graph.remove(n.ref.UID))
	return nil
}

// classify sorts owner references into owners that exist (solid), owners that are
// gone (dangling) and owners deleting in the foreground (waiting for dependents).
func (gc *Collector) classify(ctx context.Context, ns string, refs []metav1.OwnerReference) (solid, dangling, waiting []metav1.OwnerReference, err error) {
	for _, r := range refs {
		exists, foreground, err := gc.lookupOwner(ctx, ns, r)
		if err != nil {
			return nil, nil, nil, err
		}
		switch {
		case !exists:
			dangling = append(dangling, r)
		case foreground:
			waiting = append(waiting, r)
		default:
			solid = append(solid, r)
		}
	}
	return solid, dangling, waiting, nil
}

// lookupOwner asks the API server whether the referenced owner exists with the
// referenced UID, and whether it is deleting in the foreground. A namespaced owner of
// a cluster-scoped dependent cannot exist.
func (gc *Collector) lookupOwner(ctx context.Context, ns string, r metav1.OwnerReference) (exists, foreground bool, err error) {
	gvr, namespaced, err := gc.resourceFor(r.APIVersion, r.Kind)
	if err != nil {
		return false, false, err
	}
	if !namespaced {
		ns = ""
	} else if ns == "" {
		return false, false, nil
	}
	if gc.absent.has(ns, r.UID) {
		return false, false, nil
	}
	owner, err := gc.md.Resource(gvr).Namespace(ns).Get(ctx, r.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && owner.UID != r.UID) {
		gc.absent.add(ns, r.UID)
		return false, false, nil
	}
	if err != nil {
		return false, false, err
	}
	return true, owner.DeletionTimestamp != nil && slices.Contains(owner.Finalizers, metav1.FinalizerDeleteDependents), nil
}

func (gc *Collector) resourceFor(apiVersion, kind string) (schema.GroupVersionResource, bool, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return schema.GroupVersionResource{}, false, err
	}
	m, err := gc.mapper.RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
	if meta.IsNoMatchError(err) {
		gc.mapper.Reset()
		m, err = gc.mapper.RESTMapping(gv.WithKind(kind).GroupKind(), gv.Version)
	}
	if err != nil {
		return schema.GroupVersionResource{}, false, fmt.Errorf("owner kind %s %s: %w", apiVersion, kind, err)
	}
	return m.Resource, m.Scope.Name() == meta.RESTScopeNameNamespace, nil
}

// processDeletingDependents finishes a foreground deletion once no blocking dependent
// is left, and otherwise makes sure each one is on its way out.
func (gc *Collector) processDeletingDependents(ctx context.Context, n snapshot) error {
	if len(n.blocking) == 0 {
		return gc.removeFinalizer(ctx, n, metav1.FinalizerDeleteDependents)
	}
	for _, d := range n.blocking {
		if !gc.graph.isDeletingDependents(d.UID) {
			gc.deleteQ.Add(d.UID)
		}
	}
	return nil
}

// attemptToOrphan strips the owner's references from its dependents, then lets the
// owner go by removing the orphan finalizer.
func (gc *Collector) attemptToOrphan(ctx context.Context, uid types.UID) error {
	n, ok := gc.graph.get(uid)
	if !ok || n.virtual {
		return nil
	}
	latest, err := gc.md.Resource(n.gvr).Namespace(n.ref.Namespace).Get(ctx, n.ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && latest.UID != uid) {
		return nil
	}
	if err != nil {
		return err
	}
	if latest.DeletionTimestamp == nil || !slices.Contains(latest.Finalizers, metav1.FinalizerOrphanDependents) {
		return nil
	}
	for _, d := range n.dependents {
		if err := gc.dropOwner(ctx, d, uid); err != nil {
			return err
		}
	}
	return gc.removeFinalizer(ctx, n, metav1.FinalizerOrphanDependents)
}

// dropOwner removes the reference to owner from dependent d.
func (gc *Collector) dropOwner(ctx context.Context, d ref, owner types.UID) error {
	gvr, ok := gc.graph.gvrOf(d.UID)
	if !ok {
		return nil
	}
	cur, err := gc.md.Resource(gvr).Namespace(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && cur.UID != d.UID) {
		return nil
	}
	if err != nil {
		return err
	}
	keep := slices.DeleteFunc(slices.Clone(cur.OwnerReferences), func(r metav1.OwnerReference) bool { return r.UID == owner })
	if len(keep) == len(cur.OwnerReferences) {
		return nil
	}
	return gc.patchOwners(ctx, snapshot{ref: d, gvr: gvr}, cur.ResourceVersion, keep)
}

// patchOwners replaces n's ownerReferences, failing with a conflict if n changed
// since resourceVersion was read.
func (gc *Collector) patchOwners(ctx context.Context, n snapshot, resourceVersion string, refs []metav1.OwnerReference) error {
	if refs == nil {
		refs = []metav1.OwnerReference{}
	}
	return gc.patchMeta(ctx, n, map[string]any{"ownerReferences": refs, "resourceVersion": resourceVersion})
}

// removeFinalizer takes finalizer off n; the API server deletes n when it was the last.
func (gc *Collector) removeFinalizer(ctx context.Context, n snapshot, finalizer string) error {
	cur, err := gc.md.Resource(n.gvr).Namespace(n.ref.Namespace).Get(ctx, n.ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) || (err == nil && cur.UID != n.ref.UID) {
		return nil
	}
	if err != nil {
		return err
	}
	if !slices.Contains(cur.Finalizers, finalizer) {
		return nil
	}
	keep := slices.DeleteFunc(slices.Clone(cur.Finalizers), func(f string) bool { return f == finalizer })
	if keep == nil {
		keep = []string{}
	}
	slog.Info("garbage collector removing finalizer", "kind", n.ref.Kind, "object", key(n.ref), "finalizer", finalizer)
	return gc.patchMeta(ctx, n, map[string]any{"finalizers": keep, "resourceVersion": cur.ResourceVersion})
}

func (gc *Collector) patchMeta(ctx context.Context, n snapshot, metadata map[string]any) error {
	body, err := json.Marshal(map[string]any{"metadata": metadata})
	if err != nil {
		return err
	}
	_, err = gc.md.Resource(n.gvr).Namespace(n.ref.Namespace).Patch(ctx, n.ref.Name, types.MergePatchType, body, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// deleteObject deletes n with policy, only if it is still the object judged (same UID,
// and same resourceVersion when one is given).
func (gc *Collector) deleteObject(ctx context.Context, n snapshot, resourceVersion string, policy metav1.DeletionPropagation) error {
	pre := &metav1.Preconditions{UID: &n.ref.UID}
	if resourceVersion != "" {
		pre.ResourceVersion = &resourceVersion
	}
	slog.Info("garbage collector deleting object", "kind", n.ref.Kind, "object", key(n.ref), "propagation", policy)
	err := gc.md.Resource(n.gvr).Namespace(n.ref.Namespace).Delete(ctx, n.ref.Name, metav1.DeleteOptions{Preconditions: pre, PropagationPolicy: &policy})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

func key(r ref) string {
	if r.Namespace == "" {
		return r.Name
	}
	return r.Namespace + "/" + r.Name
}

// absentCache remembers owners found missing, so a thousand pods of a deleted
// ReplicaSet cost one lookup. UIDs are never reused, so entries never go stale.
type absentCache struct {
	mu    sync.Mutex
	limit int
	uids  map[string]struct{}
}

func newAbsentCache(limit int) *absentCache {
	return &absentCache{limit: limit, uids: map[string]struct{}{}}
}

func (c *absentCache) has(ns string, uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.uids[ns+"/"+string(uid)]
	return ok
}

func (c *absentCache) add(ns string, uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.uids) >= c.limit {
		clear(c.uids)
	}
	c.uids[ns+"/"+string(uid)] = struct{}{}
}
