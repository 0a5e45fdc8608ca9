package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	admissionapi "k8s.io/apiserver/pkg/admission"

	"skiff/internal/store"
)

// optionsCodecs decode a DeleteOptions body whatever group version it names. Typed
// clients send it in their own group version (snapshot.storage.k8s.io/v1 from the
// snapshot client), which the resource scheme knows only for built-in groups; as an
// unversioned kind, as in Kubernetes' parameter scheme, it decodes for custom
// resources' groups too, while a body of any other kind is still refused.
var optionsCodecs = func() serializer.CodecFactory {
	s := runtime.NewScheme()
	s.AddUnversionedTypes(metav1.SchemeGroupVersion, &metav1.DeleteOptions{})
	return serializer.NewCodecFactory(s)
}()

// deleteOptions reads DeleteOptions from the body (if any) and the query.
func deleteOptions(r *http.Request) (*metav1.DeleteOptions, error) {
	o := &metav1.DeleteOptions{}
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if len(body) > 0 {
		// Typed clients send DeleteOptions in their content type: JSON or protobuf.
		info, ok := runtime.SerializerInfoForMediaType(optionsCodecs.SupportedMediaTypes(), contentType(r))
		if !ok {
			info, _ = runtime.SerializerInfoForMediaType(optionsCodecs.SupportedMediaTypes(), runtime.ContentTypeJSON)
		}
		// A group version other than meta.k8s.io/v1 decodes into a new object.
		obj, _, err := info.Serializer.Decode(body, nil, o)
		if err != nil {
			return nil, apierrors.NewBadRequest("invalid DeleteOptions: " + err.Error())
		}
		o = obj.(*metav1.DeleteOptions)
	}
	qs := r.URL.Query()
	if s := qs.Get("gracePeriodSeconds"); s != "" {
		g, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, apierrors.NewBadRequest("invalid gracePeriodSeconds " + s)
		}
		o.GracePeriodSeconds = &g
	}
	if p := qs.Get("propagationPolicy"); p != "" {
		pp := metav1.DeletionPropagation(p)
		o.PropagationPolicy = &pp
	}
	if qs.Get("orphanDependents") == "true" && o.PropagationPolicy == nil {
		pp := metav1.DeletePropagationOrphan
		o.PropagationPolicy = &pp
	}
	if len(qs["dryRun"]) > 0 {
		o.DryRun = qs["dryRun"]
	}
	if o.PropagationPolicy != nil {
		switch *o.PropagationPolicy {
		case metav1.DeletePropagationBackground, metav1.DeletePropagationForeground, metav1.DeletePropagationOrphan:
		default:
			return nil, apierrors.NewBadRequest(fmt.Sprintf("propagationPolicy %q is not one of Background, Foreground, Orphan", *o.PropagationPolicy))
		}
	}
	return o, nil
}

func (a *API) delete(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	opts, err := deleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	// A write that lands between reading the object and deleting it is a conflict
	// the caller did not ask for: read again and check the preconditions against the
	// fresh object, as Kubernetes does. Only a resourceVersion precondition pins the
	// delete to the version the caller saw.
	pinned := opts.Preconditions != nil && opts.Preconditions.ResourceVersion != nil
	var obj runtime.Object
	for try := 0; ; try++ {
		obj, err = a.deleteObject(r.Context(), ep, q.Namespace, q.Name, opts)
		if !apierrors.IsConflict(err) || try == conflictRetries || pinned {
			break
		}
	}
	if err != nil {
		writeError(w, err)
		return
	}
	a.respond(w, r, out, http.StatusOK, ep, obj)
}

// deleteObject deletes now, or marks the object for deletion when finalizers, a
// foreground/orphan propagation, or a pod's grace period must run first.
func (a *API) deleteObject(ctx context.Context, ep *endpoint, namespace, name string, opts *metav1.DeleteOptions) (runtime.Object, error) {
	cur, err := ep.store.Get(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	m, _ := meta.Accessor(cur)
	if p := opts.Preconditions; p != nil {
		if p.UID != nil && *p.UID != m.GetUID() {
			return nil, apierrors.NewConflict(ep.GroupResource(), name, fmt.Errorf("Precondition failed: UID in precondition: %v, UID in object meta: %v", *p.UID, m.GetUID()))
		}
		if p.ResourceVersion != nil && *p.ResourceVersion != m.GetResourceVersion() {
			return nil, apierrors.NewConflict(ep.GroupResource(), name, fmt.Errorf("Precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *p.ResourceVersion, m.GetResourceVersion()))
		}
	}
	if err := a.validate(ctx, ep, attributesFor(ctx, ep, admissionapi.Delete, "", nil, cur, len(opts.DryRun) > 0)); err != nil {
		return nil, err
	}
	rv, _ := strconv.ParseInt(m.GetResourceVersion(), 10, 64)
	obj := cur.DeepCopyObject()
	om, _ := meta.Accessor(obj)
	finalizers := om.GetFinalizers()
	if opts.PropagationPolicy != nil {
		switch *opts.PropagationPolicy {
		case metav1.DeletePropagationForeground:
			finalizers = withFinalizer(finalizers, metav1.FinalizerDeleteDependents)
		case metav1.DeletePropagationOrphan:
			finalizers = withFinalizer(finalizers, metav1.FinalizerOrphanDependents)
		}
	}
	grace := a.gracePeriod(ep, obj, opts)
	if len(finalizers) == 0 && grace == 0 && ep.Resource != "namespaces" {
		if len(opts.DryRun) > 0 {
			return obj, nil
		}
		deleted, err := ep.store.Delete(ctx, namespace, name, rv)
		if err == nil {
			a.admit.deleted(ep, deleted)
		}
		return deleted, err
	}
	// Graceful: record the deletion and let finalizers, controllers or the kubelet finish.
	if dt := om.GetDeletionTimestamp(); dt != nil {
		// Already terminating: a shorter grace period may still be requested.
		if g := om.GetDeletionGracePeriodSeconds(); g == nil || grace >= *g {
			if slices.Equal(finalizers, om.GetFinalizers()) {
				return cur, nil
			}
		}
	}
	om.SetFinalizers(finalizers)
	now := metav1.NewTime(a.now().Add(secondsDuration(grace)))
	if om.GetDeletionTimestamp() == nil || grace < derefInt64(om.GetDeletionGracePeriodSeconds()) {
		om.SetDeletionTimestamp(&now)
		om.SetDeletionGracePeriodSeconds(&grace)
		if grace > 0 && om.GetGeneration() > 0 {
			// A graceful deletion changes what the kubelet must do (stop the pod
			// within the grace period), so it counts as a new generation.
			om.SetGeneration(om.GetGeneration() + 1)
		}
	}
	if ns, ok := obj.(*corev1.Namespace); ok {
		ns.Status.Phase = corev1.NamespaceTerminating
		if len(ns.Spec.Finalizers) == 0 && len(finalizers) == 0 && grace == 0 {
			// Nothing to wait for: remove at once.
			deleted, err := ep.store.Delete(ctx, namespace, name, rv)
			return deleted, err
		}
	}
	if len(opts.DryRun) > 0 {
		return obj, nil
	}
	if grace == 0 && len(finalizers) == 0 && ep.Resource != "namespaces" {
		return ep.store.Delete(ctx, namespace, name, rv)
	}
	return ep.store.Update(ctx, obj, rv)
}

func withFinalizer(fs []string, f string) []string {
	if slices.Contains(fs, f) {
		return fs
	}
	return append(slices.Clone(fs), f)
}

func derefInt64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// gracePeriod is how long the object may take to go. Only pods on a node get one:
// the kubelet stops their containers and then deletes them for good.
func (a *API) gracePeriod(ep *endpoint, obj runtime.Object, opts *metav1.DeleteOptions) int64 {
	pod, ok := obj.(*corev1.Pod)
	if !ok || ep.Resource != "pods" {
		return 0
	}
	if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
		return 0
	}
	if opts.GracePeriodSeconds != nil {
		if *opts.GracePeriodSeconds < 0 {
			return 1
		}
		return *opts.GracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

func (a *API) deleteCollection(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	out, err := negotiate(r)
	if err != nil {
		writeError(w, err)
		return
	}
	opts, err := deleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	filter, err := selection(r, ep)
	if err != nil {
		writeError(w, err)
		return
	}
	objs, _, _, err := ep.store.List(r.Context(), store.ListOptions{Namespace: q.Namespace, Filter: filter})
	if err != nil {
		writeError(w, err)
		return
	}
	var gone []runtime.Object
	for _, o := range objs {
		m, _ := meta.Accessor(o)
		d, err := a.deleteObject(r.Context(), ep, m.GetNamespace(), m.GetName(), opts)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			writeError(w, err)
			return
		}
		gone = append(gone, d)
	}
	list, _ := ep.newList()
	items, err := toServedList(ep, gone)
	if err != nil {
		writeError(w, err)
		return
	}
	_ = meta.SetList(list, items)
	writeObject(w, out, http.StatusOK, ep.GroupVersion(), list)
}
