package quota

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/resourcequota"
	resourcequotaapi "k8s.io/apiserver/pkg/admission/plugin/resourcequota/apis/resourcequota"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/warning"
)

// Store is where quota admission reads quotas and charges their status.
type Store interface {
	// List returns the quotas of a namespace from a cache that may lag etcd.
	List(namespace string) ([]*corev1.ResourceQuota, error)
	// Get reads one quota straight from etcd.
	Get(ctx context.Context, namespace, name string) (*corev1.ResourceQuota, error)
	// UpdateStatus writes q's status if q's resourceVersion is still current, and
	// returns a Conflict otherwise.
	UpdateStatus(ctx context.Context, q *corev1.ResourceQuota) (*corev1.ResourceQuota, error)
}

// Admission is the ResourceQuota admission plugin: k8s.io/apiserver's quota evaluator
// (batching per namespace, charging status.used with optimistic concurrency, retrying
// on conflict) over skiff's store and this package's evaluators.
type Admission struct {
	*admission.Handler
	eval   resourcequota.Evaluator
	access *accessor
	served func(schema.GroupResource) bool
}

var _ admission.ValidationInterface = (*Admission)(nil)

// NewAdmission returns the plugin; its workers stop when ctx ends.
func NewAdmission(ctx context.Context, store Store, list Lister, served func(schema.GroupResource) bool) *Admission {
	// The library adds counters of its own, which cannot list, for resources it meets
	// without an evaluator; measuring needs counters that can, so it has a registry
	// of its own.
	acc := &accessor{store: store, list: list, registry: NewRegistry(list), written: map[string]*corev1.ResourceQuota{}}
	eval := resourcequota.NewQuotaEvaluator(acc, nil, NewRegistry(list), nil, &resourcequotaapi.Configuration{}, 5, ctx.Done())
	return &Admission{
		Handler: admission.NewHandler(admission.Create, admission.Update),
		eval:    eval,
		access:  acc,
		served:  served,
	}
}

// Validate charges the write to every quota of its namespace that it falls under, or
// refuses it with Kubernetes' "exceeded quota" message. Dry runs are checked but not
// charged.
func (a *Admission) Validate(ctx context.Context, at admission.Attributes, _ admission.ObjectInterfaces) error {
	if at.GetNamespace() == "" {
		return nil
	}
	if rq, ok := at.GetObject().(*corev1.ResourceQuota); ok && at.GetSubresource() == "" {
		a.warnUnserved(ctx, rq)
	}
	// Without a quota in the namespace (and with no limitedResources configured) the
	// evaluator admits every write after it reads the same cache: reading it here
	// spares the write the evaluator's queue, where one worker at a time takes a
	// namespace's writes, two goroutine hand-offs that a busy machine turns into
	// milliseconds.
	if quotas, err := a.access.store.List(at.GetNamespace()); err == nil && len(quotas) == 0 {
		return nil
	}
	return a.eval.Evaluate(at)
}

// warnUnserved says so when a quota limits the count of a resource nobody serves: the
// limit is kept (the resource may be installed later) but counts nothing now.
func (a *Admission) warnUnserved(ctx context.Context, rq *corev1.ResourceQuota) {
	for _, name := range Unserved(a.served, rq.Spec.Hard) {
		warning.AddWarning(ctx, "", fmt.Sprintf("spec.hard[%s]: the server does not serve this resource; the limit counts nothing until it does", name))
	}
}

// accessor gives the library's evaluator the quotas of a namespace. It fills in a
// quota the controller has not measured yet (so a quota acts the moment it exists),
// and remembers the status it last wrote, because the cache may not have it yet.
type accessor struct {
	store    Store
	list     Lister
	registry quota.Registry
	mu       sync.Mutex
	written  map[string]*corev1.ResourceQuota // namespace/name -> last status written here
}

var _ resourcequota.QuotaAccessor = (*accessor)(nil)

func (q *accessor) UpdateQuotaStatus(rq *corev1.ResourceQuota) error {
	ctx := context.Background()
	updated, err := q.store.UpdateStatus(ctx, rq.DeepCopy())
	if apierrors.IsConflict(err) {
		// The retry reads the quotas again: make sure it sees the current one.
		if fresh, gerr := q.store.Get(ctx, rq.Namespace, rq.Name); gerr == nil {
			q.remember(fresh)
		}
		return err
	}
	if err != nil {
		return err
	}
	q.remember(updated)
	return nil
}

func (q *accessor) remember(rq *corev1.ResourceQuota) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := rq.Namespace + "/" + rq.Name
	if old, ok := q.written[key]; !ok || newer(rq, old) {
		q.written[key] = rq
	}
}

func (q *accessor) GetQuotas(namespace string) ([]corev1.ResourceQuota, error) {
	cached, err := q.store.List(namespace)
	if err != nil {
		return nil, err
	}
	out := make([]corev1.ResourceQuota, 0, len(cached))
	q.mu.Lock()
	for _, rq := range cached {
		key := rq.Namespace + "/" + rq.Name
		if w, ok := q.written[key]; ok && newer(w, rq) {
			rq = w
		} else {
			delete(q.written, key) // the cache caught up
		}
		out = append(out, *rq.DeepCopy())
	}
	q.mu.Unlock()
	for i := range out {
		if err := q.measureIfUnknown(&out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// measureIfUnknown sets status.hard from spec.hard and measures usage the controller has
// not recorded yet, as the controller would.
func (q *accessor) measureIfUnknown(rq *corev1.ResourceQuota) error {
	if quota.Equals(rq.Spec.Hard, rq.Status.Hard) && hasAllUsed(rq) {
		return nil
	}
	used, err := Measure(q.registry, q.list, rq)
	if err != nil {
		return err
	}
	rq.Status.Hard = rq.Spec.Hard.DeepCopy()
	rq.Status.Used = used
	return nil
}

func hasAllUsed(rq *corev1.ResourceQuota) bool {
	for name := range rq.Status.Hard {
		if _, ok := rq.Status.Used[name]; !ok {
			return false
		}
	}
	return true
}

// Measure computes a quota's usage from the stored objects of its namespace.
func Measure(reg quota.Registry, list Lister, rq *corev1.ResourceQuota) (corev1.ResourceList, error) {
	AddCounters(reg, list, rq.Spec.Hard)
	used, err := quota.CalculateUsage(rq.Namespace, rq.Spec.Scopes, rq.Spec.Hard, reg, rq.Spec.ScopeSelector)
	if err != nil {
		return nil, fmt.Errorf("measure quota %s/%s: %w", rq.Namespace, rq.Name, err)
	}
	return used, nil
}

// newer compares resourceVersions, which skiff takes from etcd revisions.
func newer(a, b *corev1.ResourceQuota) bool {
	av, _ := strconv.ParseInt(a.ResourceVersion, 10, 64)
	bv, _ := strconv.ParseInt(b.ResourceVersion, 10, 64)
	return av > bv
}
