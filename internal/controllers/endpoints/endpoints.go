// Package endpoints is the Endpoints controller: for every Service with a selector it
// keeps an Endpoints object of the same name listing the matching pods' addresses,
// ready ones in addresses and the others in notReadyAddresses.
package endpoints

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/controllers/controller"
)

// HeadlessLabel marks the endpoints of services without a cluster IP, so the proxy can
// ignore them with a label selector.
const HeadlessLabel = "service.kubernetes.io/headless"

type syncer struct {
	c         *controller.Context
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	endpoints corelisters.EndpointsLister
}

// New returns the Endpoints controller.
func New(c *controller.Context) *controller.Controller {
	s := &syncer{c: c}
	ctl := controller.New("endpoints", s.sync, 5)
	svcInf := c.Informers.Core().V1().Services()
	podInf := c.Informers.Core().V1().Pods()
	epInf := c.Informers.Core().V1().Endpoints()
	s.services, s.pods, s.endpoints = svcInf.Lister(), podInf.Lister(), epInf.Lister()
	ctl.Watch(svcInf.Informer(), ctl.Handler())
	ctl.Watch(podInf.Informer(), PodHandler(s.services, ctl))
	// Endpoints of a selector's Service edited or deleted by someone else are put back.
	// Endpoints without such a Service are the user's: an update leaves them alone.
	ctl.Watch(epInf.Informer(), cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, n any) {
			if ep, ok := n.(*corev1.Endpoints); ok && s.managed(ep.Namespace, ep.Name) {
				ctl.Enqueue(n)
			}
		},
		DeleteFunc: ctl.Enqueue,
	})
	return ctl
}

// PodHandler enqueues the services whose endpoints a pod event may change.
func PodHandler(services corelisters.ServiceLister, ctl *controller.Controller) cache.ResourceEventHandler {
	enqueue := func(old, cur *corev1.Pod) {
		for _, k := range PodHandlerKeys(services, old, cur) {
			ctl.Queue.Add(k)
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok {
				enqueue(nil, p)
			}
		},
		UpdateFunc: func(o, n any) {
			op, ok1 := o.(*corev1.Pod)
			np, ok2 := n.(*corev1.Pod)
			if ok1 && ok2 {
				enqueue(op, np)
			}
		},
		DeleteFunc: func(obj any) {
			if p, ok := controller.Unwrap[*corev1.Pod](obj); ok {
				enqueue(nil, p)
			}
		},
	}
}

// managed reports Endpoints this controller writes: those of a Service with a selector.
func (s *syncer) managed(ns, name string) bool {
	svc, err := s.services.Services(ns).Get(name)
	return err == nil && svc.Spec.Selector != nil
}

func (s *syncer) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	// The API server keeps the kubernetes service's endpoints pointing at itself.
	if ns == metav1.NamespaceDefault && name == "kubernetes" {
		return nil
	}
	svc, err := s.services.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return s.deleteEndpoints(ctx, ns, name)
	}
	if err != nil {
		return err
	}
	if svc.Spec.Selector == nil {
		return nil // endpoints of selector-less services are the user's to write
	}
	pods, err := s.pods.Pods(ns).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return err
	}
	return s.write(ctx, svc, Subsets(svc, pods))
}

func (s *syncer) deleteEndpoints(ctx context.Context, ns, name string) error {
	if _, err := s.endpoints.Endpoints(ns).Get(name); apierrors.IsNotFound(err) {
		return nil
	}
	err := s.c.Client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// Labels are the service's labels plus the headless marker.
func Labels(svc *corev1.Service) map[string]string {
	l := maps.Clone(svc.Labels)
	if l == nil {
		l = map[string]string{}
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		l[HeadlessLabel] = ""
	} else {
		delete(l, HeadlessLabel)
	}
	return l
}

func (s *syncer) write(ctx context.Context, svc *corev1.Service, subsets []corev1.EndpointSubset) error {
	want := Labels(svc)
	cur, err := s.endpoints.Endpoints(svc.Namespace).Get(svc.Name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	client := s.c.Client.CoreV1().Endpoints(svc.Namespace)
	if cur == nil {
		ep := &corev1.Endpoints{
			ObjectMeta: metav1.ObjectMeta{Name: svc.Name, Namespace: svc.Namespace, Labels: want},
			Subsets:    subsets,
		}
		_, err = client.Create(ctx, ep, metav1.CreateOptions{})
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("create endpoints %s/%s: %w", svc.Namespace, svc.Name, err)
		}
		return nil
	}
	if apiequality.Semantic.DeepEqual(cur.Subsets, subsets) && labelsEqual(cur.Labels, want) {
		return nil
	}
	ep := cur.DeepCopy()
	ep.Labels, ep.Subsets = want, subsets
	if _, err := client.Update(ctx, ep, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("update endpoints %s/%s: %w", svc.Namespace, svc.Name, err)
	}
	return nil
}

func labelsEqual(a, b map[string]string) bool { return len(a) == len(b) && labels.Equals(a, b) }
