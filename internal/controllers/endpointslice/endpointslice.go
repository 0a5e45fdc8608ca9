// Package endpointslice is the EndpointSlice controller: for every Service with a
// selector it keeps discovery.k8s.io/v1 EndpointSlices (at most 100 endpoints each)
// listing the matching pods with their ready, serving and terminating conditions.
package endpointslice

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/endpoints"
)

const (
	// ControllerName is the managed-by label value of the slices this controller owns.
	ControllerName = "endpointslice-controller.k8s.io"
	// MaxEndpointsPerSlice is how many endpoints one slice holds, as Kubernetes' default.
	MaxEndpointsPerSlice = 100
)

var errStaleCache = errors.New("endpoint slice cache has not caught up with our own writes")

// action is what a sync does with a service's slices.
type action int

const (
	leaveSlices  action = iota // not ours to write: keep whatever is there
	removeSlices               // none should exist
	writeSlices                // bring them to the desired endpoints
)

type syncer struct {
	c        *controller.Context
	manager  string
	max      int
	services corelisters.ServiceLister
	slices   discoverylisters.EndpointSliceLister
	written  *tracker
	// desired is the service's endpoints, grouped into what may share slices.
	desired func(svc *corev1.Service) (map[string]*group, action, error)
}

func newSyncer(c *controller.Context, manager string) *syncer {
	svcInf := c.Informers.Core().V1().Services()
	sliceInf := c.Informers.Discovery().V1().EndpointSlices()
	return &syncer{c: c, manager: manager, max: MaxEndpointsPerSlice, written: newTracker(),
		services: svcInf.Lister(), slices: sliceInf.Lister()}
}

// New returns the EndpointSlice controller.
func New(c *controller.Context) *controller.Controller {
	s := newSyncer(c, ControllerName)
	ctl := controller.New("endpointslice", s.sync, 5)
	podInf := c.Informers.Core().V1().Pods()
	pods := podInf.Lister()
	s.desired = func(svc *corev1.Service) (map[string]*group, action, error) {
		if svc.Spec.Selector == nil {
			return nil, leaveSlices, nil // the user's own slices, or mirrored Endpoints
		}
		ps, err := pods.Pods(svc.Namespace).List(labels.SelectorFromSet(svc.Spec.Selector))
		return Desired(svc, ps), writeSlices, err
	}
	ctl.Watch(c.Informers.Core().V1().Services().Informer(), ctl.Handler())
	ctl.Watch(podInf.Informer(), endpoints.PodHandler(s.services, ctl))
	ctl.Watch(c.Informers.Discovery().V1().EndpointSlices().Informer(), s.sliceHandler(ctl))
	return ctl
}

// sliceHandler resyncs the service of any slice of ours that changes or goes, so
// slices edited or deleted by others are put right.
func (s *syncer) sliceHandler(ctl *controller.Controller) cache.ResourceEventHandler {
	return controller.Each(func(obj any) {
		sl, ok := controller.Unwrap[*discoveryv1.EndpointSlice](obj)
		if !ok || sl.Labels[discoveryv1.LabelManagedBy] != s.manager || sl.Labels[discoveryv1.LabelServiceName] == "" {
			return
		}
		ctl.Queue.Add(sl.Namespace + "/" + sl.Labels[discoveryv1.LabelServiceName])
	})
}

func (s *syncer) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	have, err := s.slices.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: s.manager}))
	if err != nil {
		return err
	}
	if s.written.stale(key, have) {
		return errStaleCache
	}
	svc, err := s.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector would remove them through their owner reference; doing it
		// here does not depend on it running.
		return s.apply(ctx, key, plan{del: have})
	}
	if err != nil {
		return err
	}
	desired, act, err := s.desired(svc)
	switch {
	case err != nil:
		return err
	case act == leaveSlices:
		return nil
	case act == removeSlices:
		return s.apply(ctx, key, plan{del: have})
	}
	return s.apply(ctx, key, reconcile(owner{svc, s.manager}, have, desired, s.max))
}

func (s *syncer) apply(ctx context.Context, key string, p plan) error {
	var errs []error
	for _, sl := range p.del {
		err := s.c.Client.DiscoveryV1().EndpointSlices(sl.Namespace).Delete(ctx, sl.Name, metav1.DeleteOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			s.written.record(key, sl.Name, -1)
		} else {
			errs = append(errs, err)
		}
	}
	for _, sl := range p.update {
		out, err := s.c.Client.DiscoveryV1().EndpointSlices(sl.Namespace).Update(ctx, sl, metav1.UpdateOptions{})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.written.record(key, out.Name, rv(out))
	}
	for _, sl := range p.create {
		out, err := s.c.Client.DiscoveryV1().EndpointSlices(sl.Namespace).Create(ctx, sl, metav1.CreateOptions{})
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.written.record(key, out.Name, rv(out))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("endpoint slices of %s: %w", key, err)
	}
	return nil
}

func rv(s *discoveryv1.EndpointSlice) int64 {
	n, _ := strconv.ParseInt(s.ResourceVersion, 10, 64)
	return n
}

// tracker remembers the slices this controller wrote until the informer shows them, so
// that a sync on a stale cache does not create duplicates or resurrect deleted slices.
// Resource versions are etcd revisions here, so they order.
type tracker struct {
	mu   sync.Mutex
	seen map[string]map[string]write // service key -> slice name -> our last write
}

type write struct {
	rv int64 // -1 for a delete
	at time.Time
}

// trackFor bounds how long a write is waited for: a slice someone else deleted right
// after our write would otherwise look stale forever.
const trackFor = 10 * time.Second

func newTracker() *tracker { return &tracker{seen: map[string]map[string]write{}} }

func (t *tracker) record(key, name string, rv int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen[key] == nil {
		t.seen[key] = map[string]write{}
	}
	t.seen[key][name] = write{rv: rv, at: time.Now()}
}

// stale reports whether the cached slices lag our writes, forgetting writes they show.
func (t *tracker) stale(key string, cached []*discoveryv1.EndpointSlice) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	want := t.seen[key]
	if len(want) == 0 {
		return false
	}
	byName := make(map[string]int64, len(cached))
	for _, s := range cached {
		byName[s.Name] = rv(s)
	}
	stale := false
	for name, w := range want {
		got, ok := byName[name]
		caughtUp := (w.rv < 0 && !ok) || (w.rv >= 0 && ok && got >= w.rv)
		if caughtUp || time.Since(w.at) > trackFor {
			delete(want, name)
		} else {
			stale = true
		}
	}
	if len(want) == 0 {
		delete(t.seen, key)
	}
	return stale
}
