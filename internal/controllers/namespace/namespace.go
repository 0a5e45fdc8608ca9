// Package namespace is the namespace controller: when a namespace is deleted it
// empties it — every namespaced object of every kind the server serves, pods given
// their grace period — and then removes the "kubernetes" finalizer through the finalize
// subresource, which lets the API server delete the namespace itself.
package namespace

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/controllers/controller"
)

// How soon a namespace whose content is still going is looked at again: soon enough
// that deletion feels prompt, never so often that a stuck finalizer costs much.
const (
	minRecheck = time.Second
	maxRecheck = 5 * time.Second
)

type syncer struct {
	c          *controller.Context
	ctl        *controller.Controller
	md         metadata.Interface
	disc       discovery.DiscoveryInterface
	namespaces corelisters.NamespaceLister
	now        func() time.Time
}

// New returns the namespace controller; md reaches objects of every kind.
func New(c *controller.Context, md metadata.Interface) *controller.Controller {
	s := &syncer{c: c, md: md, disc: c.Client.Discovery(), now: time.Now}
	s.ctl = controller.New("namespace", s.sync, 5)
	inf := c.Informers.Core().V1().Namespaces()
	s.namespaces = inf.Lister()
	s.ctl.Watch(inf.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    s.enqueueTerminating,
		UpdateFunc: func(_, n any) { s.enqueueTerminating(n) },
	})
	return s.ctl
}

func (s *syncer) enqueueTerminating(obj any) {
	if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp != nil {
		s.ctl.Enqueue(ns)
	}
}

func (s *syncer) sync(ctx context.Context, name string) error {
	ns, err := s.namespaces.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil || !slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes) {
		return nil
	}
	resources, discErr := s.discover()
	r := s.deleteContent(ctx, name, resources)
	r.discoveryErr = discErr
	if err := s.updateConditions(ctx, ns, r); err != nil {
		// The conditions only explain progress; emptying the namespace goes on.
		slog.Warn("could not update namespace conditions", "namespace", name, "err", err)
	}
	if !r.done() {
		wait := min(max(r.estimate, minRecheck), maxRecheck)
		slog.Debug("namespace content remains", "namespace", name, "remaining", r.remaining, "recheck", wait)
		s.ctl.Queue.AddAfter(name, wait)
		return nil
	}
	return s.finalize(ctx, ns)
}

// discover lists the namespaced resources that can be listed and deleted. Discovery
// failing for some groups still returns the others, so what can go, goes.
func (s *syncer) discover() ([]resource, error) {
	lists, err := discovery.ServerPreferredNamespacedResources(s.disc)
	var out []resource
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, r := range l.APIResources {
			if !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			out = append(out, resource{gvr: gv.WithResource(r.Name), collection: slices.Contains(r.Verbs, "deletecollection")})
		}
	}
	return out, err
}

type resource struct {
	gvr        schema.GroupVersionResource
	collection bool
}

func (s *syncer) finalize(ctx context.Context, ns *corev1.Namespace) error {
	upd := ns.DeepCopy()
	upd.Spec.Finalizers = slices.DeleteFunc(upd.Spec.Finalizers, func(f corev1.FinalizerName) bool {
		return f == corev1.FinalizerKubernetes
	})
	_, err := s.c.Client.CoreV1().Namespaces().Finalize(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finalize namespace %s: %w", ns.Name, err)
	}
	slog.Info("namespace emptied and finalized", "namespace", ns.Name)
	return nil
}
