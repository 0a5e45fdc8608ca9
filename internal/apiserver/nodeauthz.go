package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/watch"

	"skiff/internal/auth"
	"skiff/internal/store"
)

// nodeAuthorizer decides node identities' requests from the API's own caches: pods
// by node (kept by runPodIndex) and claims by name.
func (a *API) nodeAuthorizer() auth.NodeAuthorizer {
	claims := a.endpoints[corev1.SchemeGroupVersion.WithResource("persistentvolumeclaims")].store
	volumes := a.endpoints[corev1.SchemeGroupVersion.WithResource("persistentvolumes")].store
	return auth.NodeAuthorizer{Pods: a.pods, Claim: func(ns, name string) (*corev1.PersistentVolumeClaim, bool) {
		obj, ok := claims.Peek(ns, name)
		if !ok {
			return nil, false
		}
		pvc, ok := obj.(*corev1.PersistentVolumeClaim)
		return pvc, ok
	}, Pinned: func(volume, node string) bool {
		obj, ok := volumes.Peek("", volume)
		pv, isPV := obj.(*corev1.PersistentVolume)
		return ok && isPV && pinnedTo(pv, node)
	}}
}

// checkNodeToken is NodeRestriction for token requests (which bypass the admission
// chain): a node gets service-account tokens only bound to a pod on itself, so a
// token dies with the pod and cannot outlive the node's claim to it.
func (a *API) checkNodeToken(ctx context.Context, ep *endpoint, sa *corev1.ServiceAccount, ref *authnv1.BoundObjectReference) error {
	node, ok := auth.NodeName(auth.UserFrom(ctx))
	if !ok {
		return nil
	}
	forbid := func(msg string) error {
		return apierrors.NewForbidden(ep.GroupResource(), sa.Name, fmt.Errorf("%s", msg))
	}
	if ref == nil || ref.Kind != "Pod" {
		return forbid("node requested token not bound to a pod")
	}
	if !a.pods.PodOn(node, sa.Namespace, ref.Name) {
		return forbid("node requested token bound to a pod scheduled on a different node")
	}
	return nil
}

// startPodIndex fills a.pods from the pods cache, then keeps it in step until ctx
// ends. A watcher the cache drops (it fell behind, or the cache reloaded) is replaced
// by a fresh one, whose initial events rebuild the index.
func (a *API) startPodIndex(ctx context.Context) error {
	pods := a.endpoints[corev1.SchemeGroupVersion.WithResource("pods")].store
	w, err := a.watchPods(ctx, pods)
	if err != nil {
		return err
	}
	go func() {
		for {
			a.followPods(ctx, w)
			w.Stop()
			for ctx.Err() == nil {
				if w, err = a.watchPods(ctx, pods); err == nil {
					break
				}
				slog.Error("node authorizer: watch pods", "err", err)
				time.Sleep(time.Second)
			}
			if ctx.Err() != nil {
				return
			}
		}
	}()
	return nil
}

// watchPods starts a watch and loads its initial state into the index.
func (a *API) watchPods(ctx context.Context, pods *store.Resource) (*store.Watcher, error) {
	w, err := pods.Watch(ctx, store.WatchOptions{})
	if err != nil {
		return nil, err
	}
	var initial []*corev1.Pod
	for ev := range w.Backlog() {
		if p, ok := ev.Obj.(*corev1.Pod); ok {
			initial = append(initial, p)
		}
	}
	a.pods.Reset(initial)
	return w, nil
}

func (a *API) followPods(ctx context.Context, w *store.Watcher) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.Ready():
			evs, open := w.Take()
			for _, ev := range evs {
				applyPodEvent(a.pods, ev)
			}
			if !open {
				return
			}
		}
	}
}

func applyPodEvent(x *auth.PodIndex, ev store.Event) {
	if ev.Type == watch.Deleted {
		if p, ok := ev.Prev.(*corev1.Pod); ok {
			x.Delete(p.Namespace, p.Name)
		}
		return
	}
	if p, ok := ev.Obj.(*corev1.Pod); ok {
		x.Set(p)
	}
}
