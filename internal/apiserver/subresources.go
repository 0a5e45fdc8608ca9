package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/resources"
	"skiff/internal/store"
)

var scaleGV = autoscalingv1.SchemeGroupVersion

// scaleOf reads spec.replicas, status.replicas and the selector of a scalable object.
func scaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	m, _ := meta.Accessor(obj)
	v := reflect.ValueOf(obj).Elem()
	spec, status := v.FieldByName("Spec"), v.FieldByName("Status")
	s := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{
		Name: m.GetName(), Namespace: m.GetNamespace(), UID: m.GetUID(),
		ResourceVersion: m.GetResourceVersion(), CreationTimestamp: m.GetCreationTimestamp(),
	}}
	if r := spec.FieldByName("Replicas"); r.IsValid() && !r.IsNil() {
		s.Spec.Replicas = int32(r.Elem().Int())
	}
	if r := status.FieldByName("Replicas"); r.IsValid() {
		s.Status.Replicas = int32(r.Int())
	}
	switch sel := spec.FieldByName("Selector").Interface().(type) {
	case *metav1.LabelSelector:
		ls, err := metav1.LabelSelectorAsSelector(sel)
		if err != nil {
			return nil, err
		}
		s.Status.Selector = ls.String()
	case map[string]string:
		s.Status.Selector = labels.SelectorFromSet(sel).String()
	}
	return s, nil
}

func setReplicas(obj runtime.Object, n int32) {
	reflect.ValueOf(obj).Elem().FieldByName("Spec").FieldByName("Replicas").Set(reflect.ValueOf(&n))
}

// serveScale serves the scale subresource as autoscaling/v1 Scale.
func (a *API) serveScale(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	if q.Verb == "get" {
		cur, err := ep.store.Get(r.Context(), q.Namespace, q.Name)
		if err != nil {
			writeError(w, err)
			return
		}
		scale, err := ep.scaleOf(cur)
		if err != nil {
			writeError(w, err)
			return
		}
		writeObject(w, out, http.StatusOK, scaleGV, scale)
		return
	}
	if q.Verb != "update" && q.Verb != "patch" {
		writeError(w, apierrors.NewMethodNotSupported(ep.GroupResource(), r.Method))
		return
	}
	opts, err := optionsOf(r)
	if err != nil {
		writeError(w, err)
		return
	}
	body, err := readBody(r)
	if err != nil {
		writeError(w, err)
		return
	}
	// A write that names no resourceVersion is unconditional: when the object
	// changed under it (a controller writing status), it is applied again to the
	// new version, as Kubernetes does, instead of failing with a conflict.
	for try := 0; ; try++ {
		updated, pinned, err := a.scaleOnce(r, q, ep, body, opts, try == 0)
		if apierrors.IsConflict(err) && !pinned && try < conflictRetries {
			continue
		}
		if err != nil {
			writeError(w, err)
			return
		}
		scale, _ := ep.scaleOf(updated)
		writeObject(w, out, http.StatusOK, scaleGV, scale)
		return
	}
}

// scaleOnce applies one scale update or patch to the current object; pinned says
// the request named the resourceVersion it was computed from.
func (a *API) scaleOnce(r *http.Request, q request, ep *endpoint, body []byte, opts writeOptions, cached bool) (runtime.Object, bool, error) {
	cur, err := a.current(r.Context(), ep, q.Namespace, q.Name, cached)
	if err != nil {
		return nil, false, err
	}
	scale, err := ep.scaleOf(cur)
	if err != nil {
		return nil, false, err
	}
	var want *autoscalingv1.Scale
	pinned := false
	if q.Verb == "update" {
		obj, _, err := decodeBody(r, body, scaleGV.WithKind("Scale"), opts.strict)
		if err != nil {
			return nil, false, err
		}
		want = obj.(*autoscalingv1.Scale)
		pinned = want.ResourceVersion != ""
	} else {
		pt := types.PatchType(contentType(r))
		scaleEP := &endpoint{Info: &resources.Info{GroupVersionResource: scaleGV.WithResource("scale"), Kind: "Scale", Storage: scaleGV}}
		scale.SetGroupVersionKind(scaleGV.WithKind("Scale"))
		obj, _, err := patchObject(scaleEP, scale, pt, body, opts.strict)
		if err != nil {
			return nil, false, err
		}
		want = obj.(*autoscalingv1.Scale)
		pinned = pinnedVersion(pt, body)
	}
	if want.ResourceVersion != "" && want.ResourceVersion != resourceVersion(cur) {
		return nil, pinned, apierrors.NewConflict(ep.GroupResource(), q.Name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	obj := cur.DeepCopyObject()
	if err := ep.setReplicas(obj, want.Spec.Replicas); err != nil {
		return nil, false, err
	}
	updated, err := a.updateObject(r.Context(), ep, request{Namespace: q.Namespace, Name: q.Name}, cur, obj, opts, true)
	return updated, pinned, err
}

func contentType(r *http.Request) string {
	ct := r.Header.Get("Content-Type")
	for i, c := range ct {
		if c == ';' {
			return ct[:i]
		}
	}
	return ct
}

// serveBinding assigns a pod to a node: the scheduler's one write.
func (a *API) serveBinding(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	c, obj, ok := beginCreate(w, r, q, ep, corev1.SchemeGroupVersion.WithKind("Binding"))
	if !ok {
		return
	}
	b := obj.(*corev1.Binding)
	if b.Target.Kind != "" && b.Target.Kind != "Node" || b.Target.Name == "" {
		writeError(w, apierrors.NewBadRequest("binding target must be a Node with a name"))
		return
	}
	if err := a.bind(r.Context(), ep, q.Namespace, q.Name, b); err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, c.out, http.StatusCreated, corev1.SchemeGroupVersion, &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

func (a *API) bind(ctx context.Context, ep *endpoint, ns, name string, b *corev1.Binding) error {
	for try := 0; ; try++ {
		cur, err := a.current(ctx, ep, ns, name, try == 0)
		if err != nil {
			return err
		}
		pod := cur.DeepCopyObject().(*corev1.Pod)
		if err := resources.BindPod(pod, b, metav1.NewTime(a.now())); err != nil {
			return apierrors.NewConflict(ep.GroupResource(), name, err)
		}
		_, err = ep.store.Update(ctx, pod, mustRV(cur))
		if !apierrors.IsConflict(err) || try == conflictRetries {
			return err
		}
	}
}

// current is the object a write starts from. The watch cache's copy saves an etcd
// read and a decode, and is safe because the write's transaction requires the
// object to still be at that copy's revision; after a conflict, or when the cache
// does not have the object yet, it reads etcd.
func (a *API) current(ctx context.Context, ep *endpoint, ns, name string, cached bool) (runtime.Object, error) {
	if cached {
		if obj, ok := ep.store.Peek(ns, name); ok {
			return obj, nil
		}
	}
	return ep.store.Get(ctx, ns, name)
}

func mustRV(obj runtime.Object) int64 {
	var rv int64
	fmt.Sscan(resourceVersion(obj), &rv)
	return rv
}

// serveEviction deletes a pod unless a PodDisruptionBudget forbids it.
func (a *API) serveEviction(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	if q.Verb != "create" {
		writeError(w, apierrors.NewMethodNotSupported(ep.GroupResource(), r.Method))
		return
	}
	c, ok := begin(w, r)
	if !ok {
		return
	}
	obj, _, err := decodeBody(r, c.raw, policyv1.SchemeGroupVersion.WithKind("Eviction"), false)
	if err != nil {
		// policy/v1beta1 Evictions carry the same fields.
		if obj, _, err = decodeBody(r, c.raw, schema.GroupVersionKind{Group: "policy", Version: "v1beta1", Kind: "Eviction"}, false); err != nil {
			writeError(w, err)
			return
		}
	}
	pod, err := ep.store.Get(r.Context(), q.Namespace, q.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	if err := a.checkDisruption(r.Context(), pod.(*corev1.Pod)); err != nil {
		writeError(w, err)
		return
	}
	opts := &metav1.DeleteOptions{}
	if e, ok := obj.(*policyv1.Eviction); ok && e.DeleteOptions != nil {
		opts = e.DeleteOptions
	}
	if len(opts.DryRun) == 0 {
		if err := a.markEvicted(r.Context(), ep, q.Namespace, q.Name); err != nil {
			writeError(w, err)
			return
		}
	}
	if _, err := a.deleteObject(r.Context(), ep, q.Namespace, q.Name, opts); err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, c.out, http.StatusCreated, corev1.SchemeGroupVersion, &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated})
}

// markEvicted gives a running pod the DisruptionTarget condition before it is
// deleted, as Kubernetes does: a Job's pod failure policy can then tell an eviction
// from the pod's own failure.
func (a *API) markEvicted(ctx context.Context, ep *endpoint, ns, name string) error {
	for try := 0; ; try++ {
		cur, err := a.current(ctx, ep, ns, name, try == 0)
		if err != nil {
			return err
		}
		pod := cur.(*corev1.Pod).DeepCopy()
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			return nil
		}
		cond := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
			Reason: "EvictionByEvictionAPI", Message: "Eviction API: evicting", LastTransitionTime: metav1.NewTime(a.now())}
		i := slices.IndexFunc(pod.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == corev1.DisruptionTarget })
		if i >= 0 {
			pod.Status.Conditions[i] = cond
		} else {
			pod.Status.Conditions = append(pod.Status.Conditions, cond)
		}
		_, err = ep.store.Update(ctx, pod, mustRV(cur))
		if !apierrors.IsConflict(err) || try == conflictRetries {
			return err
		}
	}
}

// checkDisruption refuses an eviction that a PodDisruptionBudget does not allow, and
// otherwise takes one disruption from each budget that covers the pod.
func (a *API) checkDisruption(ctx context.Context, pod *corev1.Pod) error {
	pdbs := a.endpoints[policyv1.SchemeGroupVersion.WithResource("poddisruptionbudgets")]
	objs, _, _, err := pdbs.store.List(ctx, store.ListOptions{Namespace: pod.Namespace, ResourceVersion: "0"})
	if err != nil {
		return err
	}
	if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return nil
	}
	for _, o := range objs {
		pdb := o.(*policyv1.PodDisruptionBudget)
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
			continue
		}
		// The cause names the budget and why, so clients (kubectl drain, the
		// conformance suite) can tell a budget's refusal from rate limiting.
		switch {
		case pdb.Status.ObservedGeneration < pdb.Generation:
			return budgetRefusal(fmt.Sprintf("The disruption budget %s is still being processed by the server.", pdb.Name))
		case pdb.Status.DisruptionsAllowed < 1:
			return budgetRefusal(fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently",
				pdb.Name, pdb.Status.DesiredHealthy, pdb.Status.CurrentHealthy))
		}
		upd := pdb.DeepCopy()
		upd.Status.DisruptionsAllowed--
		if upd.Status.DisruptedPods == nil {
			upd.Status.DisruptedPods = map[string]metav1.Time{}
		}
		upd.Status.DisruptedPods[pod.Name] = metav1.NewTime(a.now())
		if _, err := pdbs.store.Update(ctx, upd, mustRV(pdb)); err != nil {
			return err
		}
	}
	return nil
}

// budgetRefusal is Kubernetes' answer to an eviction a budget forbids: 429 with a
// DisruptionBudget cause.
func budgetRefusal(cause string) error {
	err := apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 10)
	err.ErrStatus.Reason = metav1.StatusReasonTooManyRequests
	err.ErrStatus.Details.Causes = append(err.ErrStatus.Details.Causes,
		metav1.StatusCause{Type: policyv1.DisruptionBudgetCause, Message: cause})
	return err
}

// serveFinalize updates a namespace's spec.finalizers, the only way they change.
func (a *API) serveFinalize(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	c, ok := begin(w, r)
	if !ok {
		return
	}
	obj, ok := c.decode(w, r, ep.GVK())
	if !ok {
		return
	}
	want := obj.(*corev1.Namespace)
	cur, err := ep.store.Get(r.Context(), "", q.Name)
	if err != nil {
		writeError(w, err)
		return
	}
	ns := cur.DeepCopyObject().(*corev1.Namespace)
	// A finalize computed from a stale copy (or an earlier namespace of the same name)
	// must not strip the finalizers of the current one.
	if (want.ResourceVersion != "" && want.ResourceVersion != ns.ResourceVersion) || (want.UID != "" && want.UID != ns.UID) {
		writeError(w, apierrors.NewConflict(ep.GroupResource(), q.Name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again")))
		return
	}
	ns.Spec.Finalizers = want.Spec.Finalizers
	var result runtime.Object
	if ns.DeletionTimestamp != nil && len(ns.Spec.Finalizers) == 0 && len(ns.Finalizers) == 0 {
		result, err = ep.store.Delete(r.Context(), "", q.Name, mustRV(cur))
	} else {
		result, err = ep.store.Update(r.Context(), ns, mustRV(cur))
	}
	if err != nil {
		writeError(w, err)
		return
	}
	a.respond(w, r, c.out, http.StatusOK, ep, result)
}
