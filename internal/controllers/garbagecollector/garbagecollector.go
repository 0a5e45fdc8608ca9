// Package garbagecollector deletes objects whose owners are gone. It watches the
// metadata of every kind the API server serves, keeps the graph of ownerReferences,
// and implements the three cascading deletions: background (owner first, dependents
// after), foreground (the foregroundDeletion finalizer holds the owner until its
// blocking dependents are gone) and orphan (the orphan finalizer holds the owner until
// its dependents no longer reference it).
package garbagecollector

import (
	"context"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/controllers/controller"
)

// Options tune the collector; zero values take the defaults.
type Options struct {
	// Workers deleting (5) and orphaning (2) in parallel.
	DeleteWorkers, OrphanWorkers int
	// Rediscover is how often new resource types are looked for; 30s.
	Rediscover time.Duration
}

// ignored kinds never own anything and churn a lot.
var ignored = []schema.GroupResource{{Group: "", Resource: "events"}, {Group: "events.k8s.io", Resource: "events"}}

// Collector is the garbage collector.
type Collector struct {
	opts    Options
	md      metadata.Interface
	disc    discovery.DiscoveryInterface
	mapper  *restmapper.DeferredDiscoveryRESTMapper
	graph   *graph
	deleteQ workqueue.TypedRateLimitingInterface[types.UID]
	orphanQ workqueue.TypedRateLimitingInterface[types.UID]
	absent  *absentCache
	factory metadatainformer.SharedInformerFactory
	// shared are the typed informers of the process's other controllers;
	// unhook undoes the collector's handlers on them when it stops.
	shared informers.SharedInformerFactory
	unhook []func()

	// pause stops the workers while newly found resource types fill their caches, so
	// no decision is made on a graph missing a kind of dependents.
	pause   sync.RWMutex
	mu      sync.Mutex
	watched map[schema.GroupVersionResource]bool
}

// New returns the garbage collector; md reaches the metadata of objects of every kind.
func New(c *controller.Context, md metadata.Interface, opts Options) *Collector {
	if opts.DeleteWorkers == 0 {
		opts.DeleteWorkers = 5
	}
	if opts.OrphanWorkers == 0 {
		opts.OrphanWorkers = 2
	}
	if opts.Rediscover == 0 {
		opts.Rediscover = 30 * time.Second
	}
	disc := c.Client.Discovery()
	newQ := func(name string) workqueue.TypedRateLimitingInterface[types.UID] {
		return workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[types.UID](),
			workqueue.TypedRateLimitingQueueConfig[types.UID]{Name: name})
	}
	return &Collector{
		opts: opts, md: md, disc: disc,
		mapper:  restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
		graph:   newGraph(),
		deleteQ: newQ("garbage_collector_attempt_to_delete"),
		orphanQ: newQ("garbage_collector_attempt_to_orphan"),
		absent:  newAbsentCache(10000),
		factory: metadatainformer.NewSharedInformerFactoryWithOptions(md, 0, metadatainformer.WithTransform(controller.SlimMetadata)),
		shared:  c.Informers,
		watched: map[schema.GroupVersionResource]bool{},
	}
}

// Run watches every deletable resource, waits for the caches, then collects until ctx
// ends.
func (gc *Collector) Run(ctx context.Context) {
	defer gc.deleteQ.ShutDown()
	defer gc.orphanQ.ShutDown()
	defer gc.factory.Shutdown()
	defer func() {
		gc.mu.Lock()
		defer gc.mu.Unlock()
		for _, f := range gc.unhook {
			f()
		}
	}()
	gc.resync(ctx)
	slog.Info("controller started", "controller", "garbagecollector", "resources", len(gc.watched), "objects", gc.graph.size())
	var wg sync.WaitGroup
	work := func(q workqueue.TypedRateLimitingInterface[types.UID], fn func(context.Context, types.UID) error) {
		defer wg.Done()
		for gc.next(ctx, q, fn) {
		}
	}
	for range gc.opts.DeleteWorkers {
		wg.Add(1)
		go work(gc.deleteQ, gc.attemptToDelete)
	}
	for range gc.opts.OrphanWorkers {
		wg.Add(1)
		go work(gc.orphanQ, gc.attemptToOrphan)
	}
	t := time.NewTicker(gc.opts.Rediscover)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			gc.deleteQ.ShutDown()
			gc.orphanQ.ShutDown()
			wg.Wait()
			return
		case <-t.C:
			gc.resync(ctx)
		}
	}
}

func (gc *Collector) next(ctx context.Context, q workqueue.TypedRateLimitingInterface[types.UID], fn func(context.Context, types.UID) error) bool {
	uid, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(uid)
	gc.pause.RLock()
	err := fn(ctx, uid)
	gc.pause.RUnlock()
	if err == nil {
		q.Forget(uid)
		return true
	}
	if q.NumRequeues(uid) < 10 {
		slog.Debug("garbage collection failed; retrying", "uid", uid, "err", err)
	} else {
		slog.Warn("garbage collection keeps failing", "uid", uid, "err", err)
	}
	q.AddRateLimited(uid)
	return true
}

// resync watches resource types that appeared since the last discovery and waits for
// their caches with the workers paused.
func (gc *Collector) resync(ctx context.Context) {
	gvrs, err := deletableResources(gc.disc)
	if err != nil {
		// Partial results still name the groups that answered.
		slog.Debug("garbage collector discovery incomplete", "err", err)
	}
	var fresh []cache.InformerSynced
	gc.mu.Lock()
	running := gc.runningKinds()
	for _, gvr := range gvrs {
		if gc.watched[gvr] {
			continue
		}
		if synced := gc.watch(gvr, running); synced != nil {
			gc.watched[gvr] = true
			fresh = append(fresh, synced)
		}
	}
	gc.mu.Unlock()
	if len(fresh) == 0 {
		return
	}
	gc.mapper.Reset()
	gc.pause.Lock()
	defer gc.pause.Unlock()
	gc.factory.Start(ctx.Done())
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if !cache.WaitForCacheSync(waitCtx.Done(), fresh...) && ctx.Err() == nil {
		slog.Warn("garbage collector caches not all synced; collecting with what is known")
	}
}

// deletableResources are the preferred versions of resources that can be listed,
// watched and deleted, events aside.
func deletableResources(disc discovery.DiscoveryInterface) ([]schema.GroupVersionResource, error) {
	lists, err := discovery.ServerPreferredResources(disc)
	lists = discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"list", "watch", "delete"}}, lists)
	var out []schema.GroupVersionResource
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range l.APIResources {
			gvr := gv.WithResource(r.Name)
			if !slices.Contains(ignored, gvr.GroupResource()) {
				out = append(out, gvr)
			}
		}
	}
	return out, err
}

// runningKinds are the kinds the other controllers' typed informers already
// watch: the shared factory's started informers (WaitForCacheSync returns them
// by type; with a closed channel it does not wait).
func (gc *Collector) runningKinds() map[schema.GroupVersionKind]bool {
	closed := make(chan struct{})
	close(closed)
	kinds := map[schema.GroupVersionKind]bool{}
	for typ := range gc.shared.WaitForCacheSync(closed) {
		if typ.Kind() != reflect.Pointer {
			continue
		}
		obj, ok := reflect.New(typ.Elem()).Interface().(runtime.Object)
		if !ok {
			continue
		}
		gvks, _, err := scheme.Scheme.ObjectKinds(obj)
		if err != nil {
			continue
		}
		for _, gvk := range gvks {
			kinds[gvk] = true
		}
	}
	return kinds
}

// informerFor is the informer that feeds gvr to the graph: the running typed
// informer of its kind when another controller has one (a second watch and
// cache of the same objects, pods above all, would cost as much again), else
// a metadata informer of the collector's own.
func (gc *Collector) informerFor(gvr schema.GroupVersionResource, gvk schema.GroupVersionKind, running map[schema.GroupVersionKind]bool) (inf cache.SharedIndexInformer, shared bool) {
	if running[gvk] {
		if inf, err := gc.shared.ForResource(gvr); err == nil {
			return inf.Informer(), true
		}
	}
	return gc.factory.ForResource(gvr).Informer(), false
}

// watch makes an informer of gvr feed the graph; the result reports when the
// graph has seen everything the informer first listed.
func (gc *Collector) watch(gvr schema.GroupVersionResource, running map[schema.GroupVersionKind]bool) cache.InformerSynced {
	gvk, err := gc.mapper.KindFor(gvr)
	if err != nil {
		gc.mapper.Reset()
		if gvk, err = gc.mapper.KindFor(gvr); err != nil {
			slog.Warn("garbage collector cannot map resource to kind", "resource", gvr, "err", err)
			return nil
		}
	}
	apiVersion, kind := gvk.GroupVersion().String(), gvk.Kind
	inf, shared := gc.informerFor(gvr, gvk, running)
	upsert := func(obj any) {
		if m, ok := obj.(metav1.Object); ok {
			gc.enqueue(gc.graph.upsert(observed{gvr: gvr, apiVersion: apiVersion, kind: kind, obj: m}))
		}
	}
	// No resyncs: a shared informer's period is for its own controllers.
	reg, err := inf.AddEventHandlerWithResyncPeriod(cache.ResourceEventHandlerFuncs{
		AddFunc:    upsert,
		UpdateFunc: func(_, n any) { upsert(n) },
		DeleteFunc: func(obj any) {
			if m, ok := controller.Unwrap[metav1.Object](obj); ok {
				gc.enqueue(gc.graph.remove(m.GetUID()))
			}
		},
	}, 0)
	if err != nil {
		return nil
	}
	if shared {
		gc.unhook = append(gc.unhook, func() { _ = inf.RemoveEventHandler(reg) })
	}
	return reg.HasSynced
}

func (gc *Collector) enqueue(w work) {
	for _, uid := range w.attemptDelete {
		gc.deleteQ.Add(uid)
	}
	for _, uid := range w.orphan {
		gc.orphanQ.Add(uid)
	}
}
