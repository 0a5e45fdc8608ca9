package main

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
)

const (
	finalizer = "operator.e2e.skiff.local/farewell"
	// farewells is the ConfigMap the finalizer writes each deleted Echo into.
	farewells = "echo-farewells"
)

type reconciler struct{ client client.Client }

// Reconcile makes an Echo's ConfigMaps match its spec and reports them in its
// status; on deletion it records a farewell before letting the Echo go (the
// garbage collector removes the owned ConfigMaps).
func (r *reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	echo := &unstructured.Unstructured{}
	echo.SetGroupVersionKind(echoGVK)
	if err := r.client.Get(ctx, req.NamespacedName, echo); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if echo.GetDeletionTimestamp() != nil {
		if !controllerutil.ContainsFinalizer(echo, finalizer) {
			return ctrl.Result{}, nil
		}
		if err := r.farewell(ctx, echo); err != nil {
			return ctrl.Result{}, err
		}
		controllerutil.RemoveFinalizer(echo, finalizer)
		return ctrl.Result{}, r.client.Update(ctx, echo)
	}
	if controllerutil.AddFinalizer(echo, finalizer) {
		if err := r.client.Update(ctx, echo); err != nil {
			return ctrl.Result{}, err
		}
	}
	copies, _, _ := unstructured.NestedInt64(echo.Object, "spec", "copies")
	message, _, _ := unstructured.NestedString(echo.Object, "spec", "message")
	for i := int64(0); i < copies; i++ {
		cm := &corev1.ConfigMap{}
		cm.Name, cm.Namespace = fmt.Sprintf("%s-%d", echo.GetName(), i), echo.GetNamespace()
		_, err := controllerutil.CreateOrUpdate(ctx, r.client, cm, func() error {
			cm.Data = map[string]string{"message": message}
			return controllerutil.SetControllerReference(echo, cm, r.client.Scheme())
		})
		if err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := r.removeExtra(ctx, echo, copies); err != nil {
		return ctrl.Result{}, err
	}
	if err := unstructured.SetNestedField(echo.Object, copies, "status", "readyCopies"); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.client.Status().Update(ctx, echo)
}

// removeExtra deletes the Echo's ConfigMaps beyond its copies.
func (r *reconciler) removeExtra(ctx context.Context, echo *unstructured.Unstructured, copies int64) error {
	var list corev1.ConfigMapList
	if err := r.client.List(ctx, &list, client.InNamespace(echo.GetNamespace())); err != nil {
		return err
	}
	for i := range list.Items {
		cm := &list.Items[i]
		owned := slices.ContainsFunc(cm.OwnerReferences, func(o metav1.OwnerReference) bool { return o.UID == echo.GetUID() })
		var n int64
		if _, err := fmt.Sscanf(cm.Name, echo.GetName()+"-%d", &n); owned && err == nil && n >= copies {
			if err := r.client.Delete(ctx, cm); client.IgnoreNotFound(err) != nil {
				return err
			}
		}
	}
	return nil
}

// farewell records the Echo's deletion in the farewells ConfigMap.
func (r *reconciler) farewell(ctx context.Context, echo *unstructured.Unstructured) error {
	cm := &corev1.ConfigMap{}
	cm.Name, cm.Namespace = farewells, echo.GetNamespace()
	_, err := controllerutil.CreateOrUpdate(ctx, r.client, cm, func() error {
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data[echo.GetName()] = "deleted"
		return nil
	})
	if apierrors.IsConflict(err) {
		return fmt.Errorf("farewell for %s: %w", echo.GetName(), err)
	}
	return err
}
