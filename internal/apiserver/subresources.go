package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"reflect"

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
	if q.Verb == "get" {
		writeObject(w, out, http.StatusOK, scaleGV, scale)
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
	var want *autoscalingv1.Scale
	switch q.Verb {
	case "update":
		obj, _, err := decodeBody(r, body, scaleGV.WithKind("Scale"), opts.strict)
		if err != nil {
			writeError(w, err)
			return
		}
		want = obj.(*autoscalingv1.Scale)
	case "patch":
		scaleEP := &endpoint{Info: &resources.Info{GroupVersionResource: scaleGV.WithResource("scale"), Kind: "Scale", Storage: scaleGV}}
		scale.SetGroupVersionKind(scaleGV.WithKind("Scale"))
		obj, _, err := patchObject(scaleEP, scale, types.PatchType(contentType(r)), body, opts.strict)
		if err != nil {
			writeError(w, err)
			return
		}
		want = obj.(*autoscalingv1.Scale)
	default:
		writeError(w, apierrors.NewMethodNotSupported(ep.GroupResource(), r.Method))
		return
	}
	if want.ResourceVersion != "" && want.ResourceVersion != resourceVersion(cur) {
		writeError(w, apierrors.NewConflict(ep.GroupResource(), q.Name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again")))
		return
	}
	obj := cur.DeepCopyObject()
	if err := ep.setReplicas(obj, want.Spec.Replicas); err != nil {
		writeError(w, err)
		return
	}
	updated, err := a.updateObject(r.Context(), ep, request{Namespace: q.Namespace, Name: q.Name}, cur, obj, opts, true)
	if err != nil {
		writeError(w, err)
		return
	}
	scale, _ = ep.scaleOf(updated)
	writeObject(w, out, http.StatusOK, scaleGV, scale)
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
	if _, err := a.deleteObject(r.Context(), ep, q.Namespace, q.Name, opts); err != nil {
		writeError(w, err)
		return
	}
	writeObject(w, c.out, http.StatusCreated, corev1.SchemeGroupVersion, &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusCreated})
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
		if pdb.Status.ObservedGeneration < pdb.Generation || pdb.Status.DisruptionsAllowed < 1 {
			return tooManyRequests(fmt.Sprintf("Cannot evict pod as it would violate the pod's disruption budget."))
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

func tooManyRequests(msg string) error {
	err := apierrors.NewTooManyRequests(msg, 10)
	err.ErrStatus.Reason = metav1.StatusReasonTooManyRequests
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
