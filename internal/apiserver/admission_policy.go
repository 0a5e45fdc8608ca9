package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/limitrange"
	"skiff/internal/podsecurity"
	"skiff/internal/quota"
	"skiff/internal/store"
)

// The policy plugins (quota, limit ranges, Pod Security) read objects the way
// Kubernetes' plugins read informers: from the API's watch cache, with no etcd round
// trip. These adapters give them that view.

// cachedList lists a resource's objects in a namespace from the watch cache; a resource
// the server does not serve has none.
func (a *API) cachedList(gr schema.GroupResource, namespace string) ([]runtime.Object, error) {
	ep := a.storedEndpoint(gr)
	if ep == nil {
		return nil, nil
	}
	objs, _, _, err := ep.store.List(context.Background(), store.ListOptions{Namespace: namespace, ResourceVersion: "0"})
	return objs, err
}

// served reports whether the API stores objects of gr.
func (a *API) served(gr schema.GroupResource) bool { return a.storedEndpoint(gr) != nil }

// storedEndpoint finds the endpoint of gr in any version that has storage.
func (a *API) storedEndpoint(gr schema.GroupResource) *endpoint {
	for gvr, ep := range a.endpoints {
		if gvr.GroupResource() == gr && ep.store != nil {
			return ep
		}
	}
	return nil
}

// quotaStore lets quota admission charge status.used with the same optimistic
// concurrency as any write: the update lands only at the resourceVersion it read.
type quotaStore struct{ api *API }

func (s quotaStore) resource() *store.Resource {
	return s.api.endpoints[corev1.SchemeGroupVersion.WithResource("resourcequotas")].store
}

// List reads the cache: quota admission asks it on every write to a namespace.
func (s quotaStore) List(namespace string) ([]*corev1.ResourceQuota, error) {
	objs, _, _, err := s.resource().List(context.Background(), store.ListOptions{Namespace: namespace, ResourceVersion: "0"})
	return typed[*corev1.ResourceQuota](objs), err
}

func (s quotaStore) Get(ctx context.Context, namespace, name string) (*corev1.ResourceQuota, error) {
	obj, err := s.resource().Get(ctx, namespace, name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.ResourceQuota), nil
}

func (s quotaStore) UpdateStatus(ctx context.Context, q *corev1.ResourceQuota) (*corev1.ResourceQuota, error) {
	rv, err := strconv.ParseInt(q.ResourceVersion, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("quota %s/%s: resourceVersion %q: %w", q.Namespace, q.Name, q.ResourceVersion, err)
	}
	obj, err := s.resource().Update(ctx, q, rv)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.ResourceQuota), nil
}

// headerWarnings sends admission plugins' warnings (k8s.io/apiserver/pkg/warning) as
// HTTP Warning headers, which kubectl prints as "Warning: ...".
type headerWarnings struct {
	w    http.ResponseWriter
	mu   sync.Mutex
	seen map[string]bool
}

func (h *headerWarnings) AddWarning(_, text string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.seen[text] {
		return
	}
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	h.seen[text] = true
	warn(h.w, []string{text})
}

// addPolicyAdmission registers LimitRanger and PodSecurity, in Kubernetes' order:
// LimitRanger first, since its defaults are what the others judge.
func (a *API) addPolicyAdmission(cfg Config) error {
	a.AddAdmission(limitrange.New(func(ns string) ([]*corev1.LimitRange, error) {
		objs, err := a.cachedList(corev1.Resource("limitranges"), ns)
		return typed[*corev1.LimitRange](objs), err
	}))
	psc, err := podsecurity.LoadConfig(cfg.PodSecurityConfig)
	if err != nil {
		return err
	}
	ps, err := podsecurity.New(psc, podSecuritySource{api: a})
	if err != nil {
		return fmt.Errorf("pod security admission: %w", err)
	}
	a.AddAdmission(ps)
	return nil
}

// addQuotaAdmission registers ResourceQuota, which must come last among the
// validating plugins, so a write refused by any other plugin is never charged.
func (a *API) addQuotaAdmission(ctx context.Context) {
	a.AddAdmission(quota.NewAdmission(ctx, quotaStore{api: a}, a.cachedList, a.served))
}

// podSecuritySource reads namespaces and pods from the cache; a namespace created a
// moment ago may not be there yet, so a miss reads etcd.
type podSecuritySource struct{ api *API }

func (s podSecuritySource) GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error) {
	res := s.api.endpoints[corev1.SchemeGroupVersion.WithResource("namespaces")].store
	if obj, ok := res.Peek("", name); ok {
		return obj.(*corev1.Namespace), nil
	}
	obj, err := res.Get(ctx, "", name)
	if err != nil {
		return nil, err
	}
	return obj.(*corev1.Namespace), nil
}

func (s podSecuritySource) ListPods(_ context.Context, namespace string) ([]*corev1.Pod, error) {
	objs, err := s.api.cachedList(corev1.Resource("pods"), namespace)
	return typed[*corev1.Pod](objs), err
}
