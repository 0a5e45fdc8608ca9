package controller

import (
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
)

// Watch registers h (when not nil) on inf and makes the controller wait for inf's
// cache before its first sync; every informer a controller reads needs the wait, even
// one it only lists.
func (c *Controller) Watch(inf cache.SharedIndexInformer, h cache.ResourceEventHandler) {
	if h != nil {
		if _, err := inf.AddEventHandler(h); err != nil {
			utilruntime.HandleError(err)
		}
	}
	c.HasSynced = append(c.HasSynced, inf.HasSynced)
}

// Each is a handler that calls f with the object on add and delete, and with the new
// object on update.
func Each(f func(obj any)) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    f,
		UpdateFunc: func(_, cur any) { f(cur) },
		DeleteFunc: f,
	}
}

// EachOldAndNew is a handler that calls f with the object on add and delete, and with
// both the old and the new object on update, so that a change of owner or labels
// wakes the controller of what the object was as well as of what it is.
func EachOldAndNew(f func(obj any)) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    f,
		UpdateFunc: func(old, cur any) { f(old); f(cur) },
		DeleteFunc: f,
	}
}

// Unwrap returns obj as a T, looking through the tombstone an informer hands a delete
// handler when its watch missed the object's final state.
func Unwrap[T any](obj any) (T, bool) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	v, ok := obj.(T)
	return v, ok
}

// Get reads the object key names through a namespaced lister, as in
// Get(key, deployments.Deployments). found is false, with no error, when the key is
// malformed or the object is gone: then there is nothing left to sync.
func Get[T any, L interface{ Get(string) (T, error) }](key string, lister func(ns string) L) (obj T, found bool, err error) {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return obj, false, nil
	}
	obj, err = lister(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return obj, false, nil
	}
	return obj, err == nil, err
}

// ControllerKey returns the namespace/name key of obj's controller when that is of
// kind: the object a change to obj should wake.
func ControllerKey(obj metav1.Object, kind string) (string, bool) {
	ref := metav1.GetControllerOf(obj)
	if ref == nil || ref.Kind != kind {
		return "", false
	}
	return obj.GetNamespace() + "/" + ref.Name, true
}

// EnqueueOwnerOrAdopters wakes obj's controller when it is of kind; for an orphan, it
// wakes every owner in obj's namespace (listed by owners) that could adopt it.
func EnqueueOwnerOrAdopters[T metav1.Object](c *Controller, obj metav1.Object, kind string,
	owners func(ns string) ([]T, error), selector func(T) *metav1.LabelSelector) {
	if metav1.GetControllerOf(obj) != nil {
		if key, ok := ControllerKey(obj, kind); ok {
			c.Queue.Add(key)
		}
		return
	}
	list, _ := owners(obj.GetNamespace())
	EnqueueSelecting(c, list, selector, obj.GetLabels())
}

// EnqueueSelecting adds every owner whose non-empty selector matches set: the owners
// that could adopt an orphan with those labels.
func EnqueueSelecting[T metav1.Object](c *Controller, owners []T, selector func(T) *metav1.LabelSelector, set labels.Set) {
	for _, o := range owners {
		sel, err := metav1.LabelSelectorAsSelector(selector(o))
		if err == nil && !sel.Empty() && sel.Matches(set) {
			c.Queue.Add(o.GetNamespace() + "/" + o.GetName())
		}
	}
}
