package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/apiextensions"
	"skiff/internal/resources"
	"skiff/internal/store"
)

var crdGVR = apiextensionsv1.SchemeGroupVersion.WithResource("customresourcedefinitions")

// crdManager is the field manager the server's own CRD writes are recorded under.
const crdManager = "skiff-apiextensions"

// runCRDs keeps the custom resource endpoints and the CRDs' status in step with
// the CRDs: names accepted or refused, established CRDs served, deleted CRDs'
// objects removed before the CRD goes. It reacts to every CRD event (discovery
// changes within one cache round trip) and rechecks terminating CRDs each second.
func (a *API) runCRDs(ctx context.Context) {
	ep := a.endpoints[crdGVR]
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for ctx.Err() == nil {
		w, err := ep.store.Watch(ctx, store.WatchOptions{})
		if err != nil {
			slog.Error("apiextensions: watch CRDs", "err", err)
			time.Sleep(time.Second)
			continue
		}
		terminating := a.syncCRDs(ctx, ep)
	events:
		for {
			select {
			case <-ctx.Done():
				break events
			case <-w.Ready():
				if _, open := w.Take(); !open {
					break events
				}
				terminating = a.syncCRDs(ctx, ep)
			case <-tick.C:
				if terminating {
					terminating = a.syncCRDs(ctx, ep)
				}
			}
		}
		w.Stop()
	}
}

// syncCRDs converges every CRD once; it reports whether some CRD is terminating.
func (a *API) syncCRDs(ctx context.Context, ep *endpoint) bool {
	objs, _, _, err := ep.store.List(ctx, store.ListOptions{ResourceVersion: "0"})
	if err != nil {
		slog.Error("apiextensions: list CRDs", "err", err)
		return true
	}
	crds := make([]*apiextensionsv1.CustomResourceDefinition, len(objs))
	for i, o := range objs {
		crds[i] = o.(*apiextensionsv1.CustomResourceDefinition)
	}
	terminating := false
	for i, crd := range crds {
		if crd.DeletionTimestamp != nil {
			terminating = true
			a.cleanupCRD(ctx, ep, crd)
			continue
		}
		status := apiextensions.Status(crd, crds)
		if !apiequality.Semantic.DeepEqual(status, crd.Status) {
			next := crd.DeepCopy()
			next.Status = status
			// The next CRD's names are checked against this one's new names.
			crds[i] = next
			if apiextensions.Established(next) {
				// Served before Established is announced, so a client that waited
				// for the condition finds the resource.
				a.serveCRD(ctx, next)
			}
			if err := a.writeCRD(ctx, ep, crd, next, "status"); err != nil {
				slog.Warn("apiextensions: update CRD status", "crd", crd.Name, "err", err)
			}
			continue
		}
		if apiextensions.Established(crd) {
			a.serveCRD(ctx, crd)
		}
	}
	a.forgetGoneCRDs(crds)
	return terminating
}

func (a *API) writeCRD(ctx context.Context, ep *endpoint, cur, next *apiextensionsv1.CustomResourceDefinition, sub string) error {
	_, err := a.updateObject(ctx, ep, request{Name: cur.Name, Subresource: sub}, cur, next, writeOptions{manager: crdManager}, true)
	return err
}

// serveCRD (re)builds the endpoints of an established CRD when its spec or names
// changed since they were built.
func (a *API) serveCRD(ctx context.Context, crd *apiextensionsv1.CustomResourceDefinition) {
	key := fmt.Sprint(crd.Generation, crd.Status.AcceptedNames)
	if built, ok := a.custom.builtFrom(crd.Name); ok && built == key {
		return
	}
	versions, err := apiextensions.Versions(crd, a.Conversions)
	var eps []*endpoint
	if err == nil {
		eps, err = a.customEndpointsFor(ctx, versions)
	}
	if err != nil {
		slog.Error("apiextensions: cannot serve CRD", "crd", crd.Name, "err", err)
		return
	}
	a.custom.set(crd.Name, customSet{built: key, crd: crd, endpoints: eps})
	a.publishOpenAPI()
	slog.Info("apiextensions: serving", "crd", crd.Name, "versions", len(eps))
}

// forgetGoneCRDs stops serving the resources of CRDs that no longer exist.
func (a *API) forgetGoneCRDs(crds []*apiextensionsv1.CustomResourceDefinition) {
	a.custom.mu.RLock()
	var gone []string
	for name := range a.custom.byCRD {
		if !slices.ContainsFunc(crds, func(c *apiextensionsv1.CustomResourceDefinition) bool { return c.Name == name }) {
			gone = append(gone, name)
		}
	}
	a.custom.mu.RUnlock()
	for _, name := range gone {
		set, _ := a.customSet(name)
		a.custom.set(name, customSet{})
		if len(set) > 0 {
			a.store.Unregister(set[0].StorageResource())
		}
		slog.Info("apiextensions: no longer serving", "crd", name)
	}
	if len(gone) > 0 {
		a.publishOpenAPI()
	}
}

func (a *API) customSet(crd string) ([]*endpoint, bool) {
	a.custom.mu.RLock()
	defer a.custom.mu.RUnlock()
	s, ok := a.custom.byCRD[crd]
	return s.endpoints, ok
}

// cleanupCRD deletes a terminating CRD's objects (their own finalizers run first)
// and, once none is left, releases the CRD's cleanup finalizer so it goes.
func (a *API) cleanupCRD(ctx context.Context, ep *endpoint, crd *apiextensionsv1.CustomResourceDefinition) {
	if !slices.Contains(crd.Finalizers, resources.CRDCleanupFinalizer) {
		return
	}
	left := 0
	if eps, ok := a.customSet(crd.Name); ok && len(eps) > 0 {
		for _, ep := range eps {
			ep.custom.SetTerminating()
		}
		var err error
		if left, err = a.deleteAll(ctx, eps[0]); err != nil {
			slog.Warn("apiextensions: delete custom objects", "crd", crd.Name, "err", err)
			return
		}
	}
	next := crd.DeepCopy()
	if left > 0 {
		apiextensions.Terminating(next, fmt.Sprintf("CustomResource deletion is in progress: %d left", left))
		if !apiequality.Semantic.DeepEqual(next.Status, crd.Status) {
			_ = a.writeCRD(ctx, ep, crd, next, "status")
		}
		return
	}
	next.Finalizers = slices.DeleteFunc(next.Finalizers, func(f string) bool { return f == resources.CRDCleanupFinalizer })
	if err := a.writeCRD(ctx, ep, crd, next, ""); err != nil && !apierrors.IsNotFound(err) {
		slog.Warn("apiextensions: release CRD", "crd", crd.Name, "err", err)
	}
}

// deleteAll deletes every object of a custom resource and counts those still there.
func (a *API) deleteAll(ctx context.Context, ep *endpoint) (int, error) {
	objs, _, _, err := ep.store.List(ctx, store.ListOptions{})
	if err != nil {
		return 0, err
	}
	for _, o := range objs {
		m, _ := meta.Accessor(o)
		if m.GetDeletionTimestamp() != nil {
			continue
		}
		if _, err := a.deleteObject(ctx, ep, m.GetNamespace(), m.GetName(), &metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return 0, err
		}
	}
	objs, _, _, err = ep.store.List(ctx, store.ListOptions{})
	return len(objs), err
}
