package resources

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// quotaScopes are the scopes Kubernetes knows; each limits which resources a
// quota may name with it (quotaScopeResources).
var quotaScopes = sets.New(
	corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating,
	corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort,
	corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity,
	corev1.ResourceQuotaScopeVolumeAttributesClass,
)

// The resources that a scope's objects consume: a pod scope goes with pod counts
// and compute, BestEffort only with counts (a best-effort pod has no requests), the
// volume attributes class scope with claims. Only standard quota names are checked
// (count/pods and extended resources go with any scope), as in Kubernetes.
var (
	podCountAndCompute = sets.New[corev1.ResourceName]("pods", "cpu", "memory",
		"requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
	quotaScopeResources = map[corev1.ResourceQuotaScope]sets.Set[corev1.ResourceName]{
		corev1.ResourceQuotaScopeTerminating:               podCountAndCompute,
		corev1.ResourceQuotaScopeNotTerminating:            podCountAndCompute,
		corev1.ResourceQuotaScopeNotBestEffort:             podCountAndCompute,
		corev1.ResourceQuotaScopePriorityClass:             podCountAndCompute,
		corev1.ResourceQuotaScopeCrossNamespacePodAffinity: podCountAndCompute,
		corev1.ResourceQuotaScopeBestEffort:                sets.New[corev1.ResourceName]("pods"),
		corev1.ResourceQuotaScopeVolumeAttributesClass:     sets.New[corev1.ResourceName]("persistentvolumeclaims", "requests.storage"),
	}
	// Scopes a pod is in or not, with nothing to select by: their selectors take
	// the operator Exists only.
	existsOnlyScopes = sets.New(
		corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating,
		corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort,
		corev1.ResourceQuotaScopeCrossNamespacePodAffinity,
	)
	conflictingScopes = [][2]corev1.ResourceQuotaScope{
		{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort},
		{corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating},
	}
)

// scopeUnfit names the hard limits the scope cannot apply to.
func scopeUnfit(scope corev1.ResourceQuotaScope, hard corev1.ResourceList) []corev1.ResourceName {
	fits, ok := quotaScopeResources[scope]
	if !ok {
		return nil
	}
	var out []corev1.ResourceName
	for _, name := range sets.List(sets.KeySet(hard)) {
		if isStandardQuotaName(name) && !fits.Has(name) {
			out = append(out, name)
		}
	}
	return out
}

// isStandardQuotaName: the names quota tracks itself (not storage, which a quota
// may name only per class, nor count/ or extended names).
func isStandardQuotaName(name corev1.ResourceName) bool {
	s := string(name)
	return (quotaStandardNames.Has(s) && s != "storage") || strings.HasPrefix(s, "hugepages-") || strings.HasPrefix(s, "requests.hugepages-")
}

func hasConflict(scopes sets.Set[corev1.ResourceQuotaScope]) bool {
	for _, pair := range conflictingScopes {
		if scopes.HasAll(pair[0], pair[1]) {
			return true
		}
	}
	return false
}

func validateQuotaScopes(spec corev1.ResourceQuotaSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, s := range spec.Scopes {
		if !quotaScopes.Has(s) {
			errs = append(errs, field.Invalid(p, spec.Scopes, "unsupported scope"))
		}
		if unfit := scopeUnfit(s, spec.Hard); len(unfit) > 0 {
			errs = append(errs, field.Invalid(p, spec.Scopes, fmt.Sprintf("unsupported scope applied to resource: scope %s does not apply to %s", s, joinNames(unfit))))
		}
	}
	if hasConflict(sets.New(spec.Scopes...)) {
		errs = append(errs, field.Invalid(p, spec.Scopes, "conflicting scopes"))
	}
	return errs
}

func validateScopeSelector(spec corev1.ResourceQuotaSpec, p *field.Path) field.ErrorList {
	if spec.ScopeSelector == nil {
		return nil
	}
	var errs field.ErrorList
	mp := p.Child("matchExpressions")
	seen := sets.New[corev1.ResourceQuotaScope]()
	for i, req := range spec.ScopeSelector.MatchExpressions {
		ip := mp.Index(i)
		seen.Insert(req.ScopeName)
		if !quotaScopes.Has(req.ScopeName) {
			errs = append(errs, field.NotSupported(ip.Child("scopeName"), req.ScopeName, sets.List(quotaScopes)))
		}
		if unfit := scopeUnfit(req.ScopeName, spec.Hard); len(unfit) > 0 {
			errs = append(errs, field.Invalid(ip.Child("scopeName"), req.ScopeName, fmt.Sprintf("unsupported scope applied to resource: scope %s does not apply to %s", req.ScopeName, joinNames(unfit))))
		}
		if existsOnlyScopes.Has(req.ScopeName) && req.Operator != corev1.ScopeSelectorOpExists {
			errs = append(errs, field.Invalid(ip.Child("operator"), req.Operator,
				"must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))
		}
		switch req.Operator {
		case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
			if len(req.Values) == 0 {
				errs = append(errs, field.Required(ip.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
			}
			for j, v := range req.Values {
				for _, msg := range validation.IsValidLabelValue(v) {
					errs = append(errs, field.Invalid(ip.Child("values").Index(j), v, msg))
				}
			}
		case corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist:
			if len(req.Values) != 0 {
				errs = append(errs, field.Invalid(ip.Child("values"), req.Values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
			}
		default:
			errs = append(errs, field.NotSupported(ip.Child("operator"), req.Operator, []corev1.ScopeSelectorOperator{
				corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn, corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist}))
		}
	}
	if hasConflict(seen) {
		errs = append(errs, field.Invalid(mp, spec.ScopeSelector.MatchExpressions, "conflicting scopes"))
	}
	return errs
}

func joinNames(names []corev1.ResourceName) string {
	s := make([]string, len(names))
	for i, n := range names {
		s[i] = string(n)
	}
	return strings.Join(s, ", ")
}
