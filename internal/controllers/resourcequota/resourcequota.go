// Package resourcequota is the quota controller: it keeps every ResourceQuota's
// status (hard as the spec says, used as measured from the stored objects) true after
// deletes, after pods finish, after a change of the quota and after a restart.
// Admission charges new objects as they are written; this controller gives back what
// objects free and corrects any drift on a periodic resync.
package resourcequota

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	resourcev1 "k8s.io/api/resource/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	apiquota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/controllers/controller"
	"skiff/internal/quota"
)

// Resync is how often every quota is measured again, whatever happened.
const Resync = time.Minute

type syncer struct {
	c        *controller.Context
	ctl      *controller.Controller
	quotas   corelisters.ResourceQuotaLister
	registry apiquota.Registry
	listers  map[schema.GroupResource]func(ns string) ([]runtime.Object, error)
	md       metadata.Interface
	mapper   *restmapper.DeferredDiscoveryRESTMapper
	// counted are informers, started on demand, for the other resources quotas count.
	counted metadatainformer.SharedInformerFactory
	// typed are informers, started on demand, for the counted kinds whose usage
	// depends on their spec (ResourceClaims charge the devices they ask for).
	typed         informers.SharedInformerFactory
	mu            sync.Mutex
	watched       map[schema.GroupVersionResource]bool
	claimsWatched bool
	stop          <-chan struct{}
}

// Controller is the quota controller.
type Controller struct {
	*controller.Controller
	s *syncer
}

// Run works until ctx ends; the informers of counted resources stop with it.
func (c *Controller) Run(ctx context.Context) {
	c.s.stop = ctx.Done()
	c.Controller.Run(ctx)
}

// New returns the controller; md and disc reach the resources counted by
// count/<resource>.<group> that have no typed informer here.
func New(c *controller.Context, md metadata.Interface, disc discovery.DiscoveryInterface) *Controller {
	s := &syncer{c: c, md: md, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
		counted: metadatainformer.NewSharedInformerFactory(md, 0), typed: informers.NewSharedInformerFactory(c.Client, 0),
		watched: map[schema.GroupVersionResource]bool{}}
	s.ctl = controller.New("resourcequota", s.sync, 2)
	qInf := c.Informers.Core().V1().ResourceQuotas()
	s.quotas = qInf.Lister()
	s.ctl.Watch(qInf.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: s.ctl.Enqueue,
		// Admission's own status writes need no recount: only a new spec does.
		UpdateFunc: func(old, cur any) {
			o, n := old.(*corev1.ResourceQuota), cur.(*corev1.ResourceQuota)
			if !apiquota.Equals(o.Spec.Hard, n.Spec.Hard) || !apiquota.Equals(n.Spec.Hard, n.Status.Hard) {
				s.ctl.Enqueue(cur)
			}
		},
	})
	s.watchReleases()
	s.registry = quota.NewRegistry(s.list)
	return &Controller{Controller: s.ctl, s: s}
}

// watchReleases recounts a namespace's quotas when something there frees what it held:
// a deleted object, a pod that finished or began its graceful deletion or whose
// in-place resize down was applied, a service or claim that changed. Additions are
// charged by admission and need no recount.
func (s *syncer) watchReleases() {
	inf := s.c.Informers.Core().V1()
	pods := inf.Pods()
	s.addLister(corev1.Resource("pods"), pods.Informer(), func(ns string) ([]runtime.Object, error) {
		return asObjects(pods.Lister().Pods(ns).List(labels.Everything()))
	}, func(old, cur any) bool {
		o, n := old.(*corev1.Pod), cur.(*corev1.Pod)
		return (o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil) || quota.PodChargeChanged(o, n)
	})
	always := func(_, _ any) bool { return true }
	never := func(_, _ any) bool { return false }
	svcs := inf.Services()
	s.addLister(corev1.Resource("services"), svcs.Informer(), func(ns string) ([]runtime.Object, error) {
		return asObjects(svcs.Lister().Services(ns).List(labels.Everything()))
	}, always)
	pvcs := inf.PersistentVolumeClaims()
	s.addLister(corev1.Resource("persistentvolumeclaims"), pvcs.Informer(), func(ns string) ([]runtime.Object, error) {
		return asObjects(pvcs.Lister().PersistentVolumeClaims(ns).List(labels.Everything()))
	}, always)
	cms := inf.ConfigMaps()
	s.addLister(corev1.Resource("configmaps"), cms.Informer(), func(ns string) ([]runtime.Object, error) {
		return asObjects(cms.Lister().ConfigMaps(ns).List(labels.Everything()))
	}, never)
	secrets := inf.Secrets()
	s.addLister(corev1.Resource("secrets"), secrets.Informer(), func(ns string) ([]runtime.Object, error) {
		return asObjects(secrets.Lister().Secrets(ns).List(labels.Everything()))
	}, never)
	rcs := inf.ReplicationControllers()
	s.addLister(corev1.Resource("replicationcontrollers"), rcs.Informer(), func(ns string) ([]runtime.Object, error) {
		return asObjects(rcs.Lister().ReplicationControllers(ns).List(labels.Everything()))
	}, never)
	s.addLister(corev1.Resource("resourcequotas"), nil, func(ns string) ([]runtime.Object, error) {
		return asObjects(s.quotas.ResourceQuotas(ns).List(labels.Everything()))
	}, never)
}

func (s *syncer) addLister(gr schema.GroupResource, inf cache.SharedIndexInformer, list func(string) ([]runtime.Object, error), updateFrees func(old, cur any) bool) {
	if s.listers == nil {
		s.listers = map[schema.GroupResource]func(string) ([]runtime.Object, error){}
	}
	s.listers[gr] = list
	if inf == nil {
		return
	}
	s.ctl.Watch(inf, cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, cur any) {
			if updateFrees(old, cur) {
				s.enqueueNamespace(cur)
			}
		},
		DeleteFunc: s.enqueueNamespace,
	})
}

func (s *syncer) enqueueNamespace(obj any) {
	m, ok := controller.Unwrap[metav1.Object](obj)
	if !ok {
		return
	}
	qs, _ := s.quotas.ResourceQuotas(m.GetNamespace()).List(labels.Everything())
	for _, q := range qs {
		s.ctl.Enqueue(q)
	}
}

func asObjects[T runtime.Object](items []T, err error) ([]runtime.Object, error) {
	out := make([]runtime.Object, len(items))
	for i, it := range items {
		out[i] = it
	}
	return out, err
}

// list is the quota registry's view of stored objects: informer caches for the kinds
// watched here; for any other counted resource, a metadata informer started the first
// time a quota counts it (its deletes then give the count back at once), read live
// until that informer has synced.
func (s *syncer) list(gr schema.GroupResource, ns string) ([]runtime.Object, error) {
	if l, ok := s.listers[gr]; ok {
		return l(ns)
	}
	if gr == resourcev1.Resource("resourceclaims") {
		return s.listDeviceClaims(ns)
	}
	gvr, err := s.mapper.ResourceFor(gr.WithVersion(""))
	if err != nil {
		s.mapper.Reset() // perhaps installed since discovery was cached
		if gvr, err = s.mapper.ResourceFor(gr.WithVersion("")); err != nil {
			return nil, nil // not served: counts nothing
		}
	}
	if inf := s.watchCounted(gvr); inf.Informer().HasSynced() {
		return inf.Lister().ByNamespace(ns).List(labels.Everything())
	}
	items, err := s.md.Resource(gvr).Namespace(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Object, len(items.Items))
	for i := range items.Items {
		out[i] = &items.Items[i]
	}
	return out, nil
}

// watchCounted returns gvr's metadata informer, starting it (with a delete handler
// that recounts the namespace) the first time.
func (s *syncer) watchCounted(gvr schema.GroupVersionResource) informers.GenericInformer {
	s.mu.Lock()
	defer s.mu.Unlock()
	inf := s.counted.ForResource(gvr)
	if !s.watched[gvr] && s.stop != nil {
		s.watched[gvr] = true
		s.watchDeletes(inf.Informer())
		s.counted.Start(s.stop)
	}
	return inf
}

// watchDeletes recounts a namespace's quotas when an object of a lazily watched
// kind is deleted, and every quota once the informer has synced: until then counts
// came from live lists, and an object deleted before the informer's first list
// sends no delete event.
func (s *syncer) watchDeletes(inf cache.SharedIndexInformer) {
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: s.enqueueNamespace}); err != nil {
		utilruntime.HandleError(err)
	}
	go func() {
		if !cache.WaitForCacheSync(s.stop, inf.HasSynced) {
			return
		}
		qs, _ := s.quotas.List(labels.Everything())
		for _, q := range qs {
			s.ctl.Enqueue(q)
		}
	}()
}

// listDeviceClaims lists ResourceClaims whole, for the devices they ask for: from an
// informer started the first time a quota counts them (its deletes recount the
// namespace), read live until it has synced.
func (s *syncer) listDeviceClaims(ns string) ([]runtime.Object, error) {
	s.mu.Lock()
	inf := s.typed.Resource().V1().ResourceClaims()
	if !s.claimsWatched && s.stop != nil {
		s.claimsWatched = true
		s.watchDeletes(inf.Informer())
		s.typed.Start(s.stop)
	}
	s.mu.Unlock()
	if inf.Informer().HasSynced() {
		return asObjects(inf.Lister().ResourceClaims(ns).List(labels.Everything()))
	}
	items, err := s.c.Client.ResourceV1().ResourceClaims(ns).List(context.Background(), metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil // not served: counts nothing
	}
	if err != nil {
		return nil, err
	}
	out := make([]runtime.Object, len(items.Items))
	for i := range items.Items {
		out[i] = &items.Items[i]
	}
	return out, nil
}

func (s *syncer) sync(ctx context.Context, key string) error {
	q, found, err := controller.Get(key, s.quotas.ResourceQuotas)
	if err != nil || !found {
		return err
	}
	used, err := quota.Measure(s.registry, s.list, q)
	if err != nil {
		return err
	}
	// Keep usage of names the quota no longer limits out of the status.
	used = apiquota.Mask(used, apiquota.ResourceNames(q.Spec.Hard))
	if !apiquota.Equals(q.Status.Hard, q.Spec.Hard) || !apiquota.Equals(q.Status.Used, used) {
		up := q.DeepCopy()
		up.Status.Hard = q.Spec.Hard.DeepCopy()
		up.Status.Used = used
		if _, err := s.c.Client.CoreV1().ResourceQuotas(q.Namespace).UpdateStatus(ctx, up, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	s.ctl.EnqueueAfter(q, Resync)
	return nil
}
