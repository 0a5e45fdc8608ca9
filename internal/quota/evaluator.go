// Package quota measures what objects consume against ResourceQuotas. It supplies the
// k8s.io/apiserver quota evaluators that Kubernetes keeps in-tree (pods, services,
// persistent volume claims, resource claims) and object counters for everything
// else, so that the library's quota admission and skiff's quota controller count
// the same way.
package quota

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	quota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/apiserver/pkg/quota/v1/generic"
)

// Lister lists the stored objects of a resource in a namespace; a resource the server
// does not serve has none.
type Lister func(gr schema.GroupResource, namespace string) ([]runtime.Object, error)

// evaluator is one quota.Evaluator assembled from the functions that differ between
// kinds; the rest (matching, stats) is shared.
type evaluator struct {
	gr    schema.GroupResource
	list  Lister
	names []corev1.ResourceName
	// more matches resource names beyond names (prefixes such as requests.hugepages-).
	more func(corev1.ResourceName) bool
	// usage measures one object.
	usage func(runtime.Object) (corev1.ResourceList, error)
	// scope tells whether an object falls under a scope selector; nil: no scopes apply.
	scope func(corev1.ScopedResourceSelectorRequirement, runtime.Object) (bool, error)
	// constraints refuses an object that cannot be measured against required names.
	constraints func([]corev1.ResourceName, runtime.Object) error
	// updates tells whether an update through subresource ("" for the object itself)
	// changes what the object is charged; nil: only creates are charged.
	updates func(subresource string, old, cur runtime.Object) bool
}

var _ quota.Evaluator = (*evaluator)(nil)

func (e *evaluator) Constraints(required []corev1.ResourceName, obj runtime.Object) error {
	if e.constraints == nil {
		return nil
	}
	return e.constraints(required, obj)
}

func (e *evaluator) GroupResource() schema.GroupResource { return e.gr }

func (e *evaluator) Handles(a admission.Attributes) bool {
	switch a.GetOperation() {
	case admission.Create:
		return a.GetSubresource() == ""
	case admission.Update:
		return e.updates != nil && e.updates(a.GetSubresource(), a.GetOldObject(), a.GetObject())
	}
	return false
}

// mainUpdates charges every update of the object itself, never one of a subresource.
func mainUpdates(sub string, _, _ runtime.Object) bool { return sub == "" }

func (e *evaluator) Matches(q *corev1.ResourceQuota, obj runtime.Object) (bool, error) {
	return generic.Matches(q, obj, e.MatchingResources, e.scopeFunc())
}

func (e *evaluator) scopeFunc() generic.MatchesScopeFunc {
	if e.scope == nil {
		return generic.MatchesNoScopeFunc
	}
	return e.scope
}

func (e *evaluator) MatchingScopes(obj runtime.Object, scopes []corev1.ScopedResourceSelectorRequirement) ([]corev1.ScopedResourceSelectorRequirement, error) {
	var out []corev1.ScopedResourceSelectorRequirement
	if e.scope == nil {
		return out, nil
	}
	for _, s := range scopes {
		ok, err := e.scope(s, obj)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

// UncoveredQuotaScopes matters only with an admission configuration that limits scopes
// by default; skiff has none, so nothing is ever uncovered.
func (e *evaluator) UncoveredQuotaScopes(_, _ []corev1.ScopedResourceSelectorRequirement) ([]corev1.ScopedResourceSelectorRequirement, error) {
	return nil, nil
}

func (e *evaluator) MatchingResources(input []corev1.ResourceName) []corev1.ResourceName {
	var out []corev1.ResourceName
	for _, n := range input {
		if quota.Contains(e.names, n) || (e.more != nil && e.more(n)) {
			out = append(out, n)
		}
	}
	return out
}

func (e *evaluator) Usage(obj runtime.Object) (corev1.ResourceList, error) { return e.usage(obj) }

func (e *evaluator) UsageStats(o quota.UsageStatsOptions) (quota.UsageStats, error) {
	list := func(ns string) ([]runtime.Object, error) { return e.list(e.gr, ns) }
	return generic.CalculateUsageStats(o, list, e.scopeFunc(), e.usage)
}

// NewRegistry returns the evaluators for the kinds with their own quota resources
// (pods, services, volume claims, device claims) and the legacy counted kinds.
// Counters for other resources (count/<resource>.<group>) join with AddCounters.
func NewRegistry(list Lister) quota.Registry {
	r := generic.NewRegistry([]quota.Evaluator{podEvaluator(list), serviceEvaluator(list), claimEvaluator(list), deviceClaimEvaluator(list)})
	for _, res := range []string{"configmaps", "secrets", "replicationcontrollers", "resourcequotas"} {
		gr := corev1.Resource(res)
		r.Add(generic.NewObjectCountEvaluator(gr, listIn(list, gr), corev1.ResourceName(res)))
	}
	return r
}

func listIn(list Lister, gr schema.GroupResource) generic.ListFuncByNamespace {
	return func(ns string) ([]runtime.Object, error) { return list(gr, ns) }
}

// AddCounters adds an object counter for every count/<resource>.<group> in hard that
// has no evaluator yet.
func AddCounters(r quota.Registry, list Lister, hard corev1.ResourceList) {
	for name := range hard {
		gr, ok := countedResource(name)
		if ok && r.Get(gr) == nil {
			r.Add(generic.NewObjectCountEvaluator(gr, listIn(list, gr), ""))
		}
	}
}

// countedResource parses count/<resource>[.<group>].
func countedResource(name corev1.ResourceName) (schema.GroupResource, bool) {
	rest, ok := strings.CutPrefix(string(name), "count/")
	if !ok || rest == "" {
		return schema.GroupResource{}, false
	}
	res, group, _ := strings.Cut(rest, ".")
	return schema.GroupResource{Group: group, Resource: res}, true
}

// Unserved returns the count/<resource>.<group> names in hard whose resource is not
// served: such a limit is stored but counts nothing until the resource exists.
func Unserved(served func(schema.GroupResource) bool, hard corev1.ResourceList) []corev1.ResourceName {
	var out []corev1.ResourceName
	for name := range hard {
		if gr, ok := countedResource(name); ok && !served(gr) {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
