package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation/field"
	admissionapi "k8s.io/apiserver/pkg/admission"

	"skiff/internal/resources"
)

// eventTTL is how long Events live, as in Kubernetes.
const eventTTL = 3600

// writeOptions are the query parameters every write shares.
type writeOptions struct {
	dryRun  bool
	manager string
	strict  bool
	// ignore drops unknown fields silently (fieldValidation=Ignore); otherwise
	// each is a warning (Warn, the default) or refuses the write (Strict).
	ignore bool
}

func optionsOf(r *http.Request) (writeOptions, error) {
	qs := r.URL.Query()
	o := writeOptions{manager: qs.Get("fieldManager")}
	for _, d := range qs["dryRun"] {
		if d != "All" {
			return o, apierrors.NewBadRequest(fmt.Sprintf("unsupported dry run option %q: only All is supported", d))
		}
		o.dryRun = true
	}
	switch qs.Get("fieldValidation") {
	case "Strict":
		o.strict = true
	case "Ignore":
		o.ignore = true
	case "", "Warn":
	default:
		return o, apierrors.NewBadRequest(fmt.Sprintf("invalid fieldValidation %q: must be one of Ignore, Warn, Strict", qs.Get("fieldValidation")))
	}
	if o.manager == "" {
		// Kubernetes names the manager after the client binary.
		o.manager, _, _ = strings.Cut(r.UserAgent(), "/")
	}
	if len(o.manager) > 128 {
		return o, apierrors.NewBadRequest("fieldManager must be at most 128 characters")
	}
	return o, nil
}

func warn(w http.ResponseWriter, warnings []string) {
	for _, m := range warnings {
		w.Header().Add("Warning", fmt.Sprintf("299 - %q", m))
	}
}

func (a *API) create(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	c, ok := begin(w, r)
	if !ok {
		return
	}
	obj, ok := c.decodeFor(w, r, ep)
	if !ok {
		return
	}
	a.auditRequestObject(r.Context(), obj, q)
	obj, err := toStorage(ep, obj)
	if err != nil {
		writeError(w, err)
		return
	}
	created, err := a.createObject(r.Context(), ep, q.Namespace, obj, c.opts, true)
	if err != nil {
		writeError(w, err)
		return
	}
	a.respond(w, r, c.out, http.StatusCreated, ep, created)
}

// createObject runs the create pipeline: metadata, defaults, admission, validation,
// managed fields, then one etcd transaction.
func (a *API) createObject(ctx context.Context, ep *endpoint, namespace string, obj runtime.Object, opts writeOptions, track bool) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	if err := ep.creatable(); err != nil {
		return nil, err
	}
	if ep.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(namespace)
		}
		if m.GetNamespace() != namespace {
			return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		m.SetNamespace("")
	}
	if m.GetName() == "" && m.GetGenerateName() != "" {
		m.SetName(m.GetGenerateName() + utilrand.String(5))
	}
	if m.GetName() == "" {
		return nil, invalid(ep.StorageGVK().GroupKind(), "", field.ErrorList{field.Required(field.NewPath("metadata", "name"), "name or generateName is required")})
	}
	m.SetUID(types.UID(uuid.NewString()))
	m.SetCreationTimestamp(metav1.NewTime(a.now()))
	m.SetDeletionTimestamp(nil)
	m.SetDeletionGracePeriodSeconds(nil)
	m.SetResourceVersion("")
	if hasSpec(obj) {
		m.SetGeneration(1)
	}
	ep.Strategy.Default(obj)
	ep.Strategy.PrepareForCreate(obj)
	release, err := a.admit.create(ctx, ep, obj, opts.dryRun)
	if err != nil {
		return nil, err
	}
	at := attributesFor(ctx, ep, admissionapi.Create, "", obj, nil, opts.dryRun)
	if err := a.mutate(ctx, ep, at); err != nil {
		release()
		return nil, err
	}
	if errs := ep.Strategy.Validate(obj, nil); len(errs) > 0 {
		release()
		return nil, invalid(ep.StorageGVK().GroupKind(), m.GetName(), errs)
	}
	if err := a.validate(ctx, ep, at); err != nil {
		release()
		return nil, err
	}
	if track {
		empty, _ := ep.newObject(ep.StorageGVK())
		empty.GetObjectKind().SetGroupVersionKind(ep.StorageGVK()) // as converting it would
		obj = ep.managers[""].UpdateNoErrors(empty, obj, opts.manager)
	}
	if opts.dryRun {
		release()
		return obj, ep.store.CheckSize(ctx, obj)
	}
	var ttl int64
	if ep.Resource == "events" {
		ttl = eventTTL
	}
	created, err := ep.store.Create(ctx, obj, ttl)
	if err != nil {
		release()
		return nil, err
	}
	return created, nil
}

func (a *API) update(w http.ResponseWriter, r *http.Request, q request, ep *endpoint) {
	c, ok := begin(w, r)
	if !ok {
		return
	}
	obj, ok := c.decodeFor(w, r, ep)
	if !ok {
		return
	}
	obj, err := toStorage(ep, obj)
	if err != nil {
		writeError(w, err)
		return
	}
	m, _ := meta.Accessor(obj)
	if m.GetName() != q.Name {
		writeError(w, apierrors.NewBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), q.Name)))
		return
	}
	if ep.Namespaced && m.GetNamespace() != "" && m.GetNamespace() != q.Namespace {
		writeError(w, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return
	}
	// An update that names no resourceVersion is unconditional: when the object
	// changes between the read and the write (a controller writing status), it is
	// applied again to the new version, as Kubernetes does, instead of failing
	// with a conflict the client could not have avoided.
	rv := m.GetResourceVersion()
	for try := 0; ; try++ {
		attempt := obj
		if rv == "" { // updateObject changes what it is given; a retry needs the original
			attempt = obj.DeepCopyObject()
		}
		updated, err := a.updateAt(r.Context(), ep, q, rv, attempt, c.opts)
		if apierrors.IsConflict(err) && rv == "" && try < conflictRetries {
			continue
		}
		if err != nil {
			writeError(w, err)
			return
		}
		a.respond(w, r, c.out, http.StatusOK, ep, updated)
		return
	}
}

// updateAt applies obj to the stored object, which must be at rv unless rv is
// empty.
func (a *API) updateAt(ctx context.Context, ep *endpoint, q request, rv string, obj runtime.Object, opts writeOptions) (runtime.Object, error) {
	cur, err := a.updateBase(ctx, ep, q, rv)
	if err != nil {
		return nil, err
	}
	if rv != "" && rv != resourceVersion(cur) {
		return nil, apierrors.NewConflict(ep.GroupResource(), q.Name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
	}
	return a.updateObject(ctx, ep, q, cur, obj, opts, true)
}

// updateBase is the stored object an update applies to. When the client names the
// revision the watch cache holds, the cached copy serves: the write's transaction
// still requires etcd to be at that revision, so a stale cache only turns into
// the 409 the client would get anyway. Otherwise it reads etcd.
func (a *API) updateBase(ctx context.Context, ep *endpoint, q request, rv string) (runtime.Object, error) {
	if rv != "" {
		if obj, ok := ep.store.Peek(q.Namespace, q.Name); ok && resourceVersion(obj) == rv {
			return obj, nil
		}
	}
	return ep.store.Get(ctx, q.Namespace, q.Name)
}

// updateObject runs the update pipeline against cur, the stored object the change
// was computed from; the write fails with 409 if cur is no longer current.
func (a *API) updateObject(ctx context.Context, ep *endpoint, q request, cur, obj runtime.Object, opts writeOptions, track bool) (runtime.Object, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	old, _ := meta.Accessor(cur)
	// What clients cannot change through an update.
	m.SetNamespace(old.GetNamespace())
	m.SetUID(old.GetUID())
	m.SetCreationTimestamp(old.GetCreationTimestamp())
	m.SetDeletionTimestamp(old.GetDeletionTimestamp())
	m.SetDeletionGracePeriodSeconds(old.GetDeletionGracePeriodSeconds())
	m.SetGeneration(old.GetGeneration())
	m.SetResourceVersion(old.GetResourceVersion())
	ep.Strategy.Default(obj)
	ep.Strategy.PrepareForUpdate(obj, cur, q.Subresource)
	if hasSpec(obj) && !sameSpec(obj, cur) {
		m.SetGeneration(old.GetGeneration() + 1)
	}
	release, err := a.admit.update(ctx, ep, obj, cur, opts.dryRun)
	if err != nil {
		return nil, err
	}
	at := attributesFor(ctx, ep, admissionapi.Update, q.Subresource, obj, cur, opts.dryRun)
	if err := a.mutate(ctx, ep, at); err != nil {
		release(false)
		return nil, err
	}
	if errs := validateUpdate(ep.Strategy, obj, cur, q.Subresource); len(errs) > 0 {
		release(false)
		return nil, invalid(ep.StorageGVK().GroupKind(), m.GetName(), errs)
	}
	if err := a.validate(ctx, ep, at); err != nil {
		release(false)
		return nil, err
	}
	if track {
		obj = ep.trackUpdate(cur, obj, q.Subresource, opts.manager)
	}
	if apiequality.Semantic.DeepEqual(obj, cur) {
		release(false)
		return cur, nil // nothing changed: no new revision, as in Kubernetes
	}
	if opts.dryRun {
		release(false)
		return obj, ep.store.CheckSize(ctx, obj)
	}
	rv, _ := strconv.ParseInt(old.GetResourceVersion(), 10, 64)
	if m.GetDeletionTimestamp() != nil && len(m.GetFinalizers()) == 0 && isZero(m.GetDeletionGracePeriodSeconds()) && !namespaceFinalizing(obj) {
		// The last finalizer is gone: the object goes now.
		deleted, err := ep.store.Delete(ctx, m.GetNamespace(), m.GetName(), rv)
		release(err == nil)
		if err == nil {
			a.admit.deleted(ep, deleted)
		}
		return deleted, err
	}
	updated, err := ep.store.Update(ctx, obj, rv)
	release(err == nil)
	return updated, err
}

// validateUpdate applies a subresource's own rules where the kind has them
// (pods/resize), the kind's update rules otherwise.
func validateUpdate(s resources.Strategy, obj, cur runtime.Object, subresource string) field.ErrorList {
	if sv, ok := s.(resources.SubresourceValidator); ok && subresource != "" {
		if errs, handled := sv.ValidateSubresource(obj, cur, subresource); handled {
			return errs
		}
	}
	return s.Validate(obj, cur)
}

func isZero(p *int64) bool { return p == nil || *p == 0 }

// namespaceFinalizing reports a Namespace whose spec.finalizers (emptied only through
// the finalize subresource) still hold it.
func namespaceFinalizing(obj runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) > 0
}

func resourceVersion(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetResourceVersion()
}

// hasSpec reports kinds whose metadata.generation counts spec changes.
func hasSpec(obj runtime.Object) bool {
	v := reflect.ValueOf(obj).Elem()
	return v.Kind() == reflect.Struct && v.FieldByName("Spec").IsValid()
}

// sameSpec compares everything but metadata and status: what generation tracks.
func sameSpec(a, b runtime.Object) bool {
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := 0; i < va.NumField(); i++ {
		switch va.Type().Field(i).Name {
		case "TypeMeta", "ObjectMeta", "Status":
			continue
		}
		if !apiequality.Semantic.DeepEqual(va.Field(i).Interface(), vb.Field(i).Interface()) {
			return false
		}
	}
	return true
}
