// Package serviceaccount keeps two objects in every active namespace: the "default"
// ServiceAccount that pods run as when they name none, and the "kube-root-ca.crt"
// ConfigMap that lets pods verify the API server's certificate.
package serviceaccount

import (
	"bytes"
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/controllers/controller"
)

const (
	// DefaultName is the ServiceAccount every namespace gets.
	DefaultName = "default"
	// RootCAName is the ConfigMap that publishes the cluster CA, under key RootCAKey.
	RootCAName = "kube-root-ca.crt"
	RootCAKey  = "ca.crt"

	descriptionAnnotation = "kubernetes.io/description"
	description           = "The cluster's certificate authority, for pods that talk to the API server " +
		"through its in-cluster address (kubernetes.default.svc). Only that use is supported."
)

type syncer struct {
	c          *controller.Context
	caData     []byte
	namespaces corelisters.NamespaceLister
	accounts   corelisters.ServiceAccountLister
	configMaps corelisters.ConfigMapLister
}

// New returns the controller; caData is the PEM bundle published in kube-root-ca.crt
// (nothing is published when it is empty).
func New(c *controller.Context, caData []byte) *controller.Controller {
	s := &syncer{c: c, caData: caData}
	ctl := controller.New("serviceaccount", s.sync, 2)
	nsInf := c.Informers.Core().V1().Namespaces()
	saInf := c.Informers.Core().V1().ServiceAccounts()
	cmInf := c.Informers.Core().V1().ConfigMaps()
	s.namespaces, s.accounts, s.configMaps = nsInf.Lister(), saInf.Lister(), cmInf.Lister()
	ctl.Watch(nsInf.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    ctl.Enqueue,
		UpdateFunc: func(_, n any) { ctl.Enqueue(n) },
	})
	// A deleted or edited account or ConfigMap is put back: key by its namespace.
	byNamespace := func(name string) cache.ResourceEventHandler {
		enqueue := func(obj any) {
			if m, ok := controller.Unwrap[metav1.Object](obj); ok && m.GetName() == name {
				ctl.Queue.Add(m.GetNamespace())
			}
		}
		return cache.ResourceEventHandlerFuncs{
			UpdateFunc: func(_, n any) { enqueue(n) },
			DeleteFunc: enqueue,
		}
	}
	ctl.Watch(saInf.Informer(), byNamespace(DefaultName))
	ctl.Watch(cmInf.Informer(), byNamespace(RootCAName))
	return ctl
}

func (s *syncer) sync(ctx context.Context, ns string) error {
	n, err := s.namespaces.Get(ns)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	// A terminating namespace refuses new objects; creating them would only fail.
	if n.DeletionTimestamp != nil || n.Status.Phase == corev1.NamespaceTerminating {
		return nil
	}
	if err := s.ensureAccount(ctx, ns); err != nil {
		return err
	}
	return s.ensureRootCA(ctx, ns)
}

func (s *syncer) ensureAccount(ctx context.Context, ns string) error {
	if _, err := s.accounts.ServiceAccounts(ns).Get(DefaultName); err == nil || !apierrors.IsNotFound(err) {
		return err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: ns}}
	_, err := s.c.Client.CoreV1().ServiceAccounts(ns).Create(ctx, sa, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) || isTerminating(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create default service account in %s: %w", ns, err)
	}
	return nil
}

func (s *syncer) ensureRootCA(ctx context.Context, ns string) error {
	if len(s.caData) == 0 {
		return nil
	}
	want := map[string]string{RootCAKey: string(s.caData)}
	cur, err := s.configMaps.ConfigMaps(ns).Get(RootCAName)
	if apierrors.IsNotFound(err) {
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: RootCAName, Namespace: ns,
				Annotations: map[string]string{descriptionAnnotation: description}},
			Data: want,
		}
		_, err = s.c.Client.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) || isTerminating(err) {
			return nil
		}
		return err
	}
	if err != nil {
		return err
	}
	if len(cur.Data) == 1 && bytes.Equal([]byte(cur.Data[RootCAKey]), s.caData) &&
		len(cur.BinaryData) == 0 && cur.Annotations[descriptionAnnotation] == description {
		return nil
	}
	upd := cur.DeepCopy()
	upd.Data, upd.BinaryData = want, nil
	if upd.Annotations == nil {
		upd.Annotations = map[string]string{}
	}
	upd.Annotations[descriptionAnnotation] = description
	_, err = s.c.Client.CoreV1().ConfigMaps(ns).Update(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil // deleted meanwhile: the delete event brings us back
	}
	return err
}

// isTerminating reports the refusal to create objects in a namespace being deleted.
func isTerminating(err error) bool {
	return apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause)
}
