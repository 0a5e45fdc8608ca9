package resources

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Unqualified names a quota may limit; anything else must be domain-qualified
// (extended resources, count/<resource>.<group>).
var quotaStandardNames = sets.New(
	"pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
	"persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
	"cpu", "memory", "ephemeral-storage", "storage",
	"requests.cpu", "requests.memory", "requests.storage", "requests.ephemeral-storage",
	"limits.cpu", "limits.memory", "limits.ephemeral-storage",
)

// Object counts are whole numbers.
var quotaIntegerNames = sets.New(
	"pods", "services", "replicationcontrollers", "resourcequotas", "secrets", "configmaps",
	"persistentvolumeclaims", "services.nodeports", "services.loadbalancers",
)

func (resourceQuotaStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	rq, ok := obj.(*corev1.ResourceQuota)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	errs = append(errs, validateQuotaList(rq.Spec.Hard, field.NewPath("spec", "hard"))...)
	errs = append(errs, validateQuotaList(rq.Status.Hard, field.NewPath("status", "hard"))...)
	errs = append(errs, validateQuotaList(rq.Status.Used, field.NewPath("status", "used"))...)
	scopesPath := field.NewPath("spec", "scopes")
	errs = append(errs, validateQuotaScopes(rq.Spec, scopesPath)...)
	errs = append(errs, validateScopeSelector(rq.Spec, field.NewPath("spec", "scopeSelector"))...)
	// Usage already counted under one set of scopes cannot be recounted under another.
	if oldRQ, ok := old.(*corev1.ResourceQuota); ok {
		if !sets.New(rq.Spec.Scopes...).Equal(sets.New(oldRQ.Spec.Scopes...)) {
			errs = append(errs, field.Invalid(scopesPath, rq.Spec.Scopes, apivalidation.FieldImmutableErrorMsg))
		}
	}
	return errs
}

func validateQuotaList(list corev1.ResourceList, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for name, q := range list {
		kp := p.Key(string(name))
		nameErrs := validateQuotaResourceName(string(name), kp)
		if len(nameErrs) == 0 && !strings.Contains(string(name), "/") && !quotaStandardNames.Has(string(name)) &&
			!strings.HasPrefix(string(name), "hugepages-") && !strings.HasPrefix(string(name), "requests.hugepages-") {
			nameErrs = append(nameErrs, field.Invalid(kp, name, "must be a standard resource for quota"))
		}
		errs = append(errs, nameErrs...)
		errs = append(errs, validateQuantityNonNegative(q, kp)...)
		if quotaIntegerNames.Has(string(name)) && q.MilliValue()%1000 != 0 {
			errs = append(errs, field.Invalid(kp, q.String(), "must be an integer"))
		}
	}
	return errs
}

func validateQuotaResourceName(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for _, msg := range validation.IsQualifiedName(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// Default applies LimitRange's own defaults for container items: a max implies
// a default limit, and a default limit (or a min) implies a default request.
func (limitRangeStrategy) Default(obj runtime.Object) {
	lr, ok := obj.(*corev1.LimitRange)
	if !ok {
		return
	}
	for i := range lr.Spec.Limits {
		item := &lr.Spec.Limits[i]
		if item.Type != corev1.LimitTypeContainer {
			continue
		}
		if item.Default == nil {
			item.Default = corev1.ResourceList{}
		}
		if item.DefaultRequest == nil {
			item.DefaultRequest = corev1.ResourceList{}
		}
		for k, v := range item.Max {
			if _, ok := item.Default[k]; !ok {
				item.Default[k] = v.DeepCopy()
			}
		}
		for k, v := range item.Default {
			if _, ok := item.DefaultRequest[k]; !ok {
				item.DefaultRequest[k] = v.DeepCopy()
			}
		}
		for k, v := range item.Min {
			if _, ok := item.DefaultRequest[k]; !ok {
				item.DefaultRequest[k] = v.DeepCopy()
			}
		}
	}
}

func (limitRangeStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	lr, ok := obj.(*corev1.LimitRange)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	limitsPath := field.NewPath("spec", "limits")
	types := sets.New[corev1.LimitType]()
	for i := range lr.Spec.Limits {
		item := &lr.Spec.Limits[i]
		ip := limitsPath.Index(i)
		errs = append(errs, validateLimitRangeType(item.Type, ip.Child("type"))...)
		if types.Has(item.Type) {
			errs = append(errs, field.Duplicate(ip.Child("type"), item.Type))
		}
		types.Insert(item.Type)
		if item.Type == corev1.LimitTypePod {
			if len(item.Default) > 0 {
				errs = append(errs, field.Forbidden(ip.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(item.DefaultRequest) > 0 {
				errs = append(errs, field.Forbidden(ip.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		}
		if item.Type == corev1.LimitTypePersistentVolumeClaim {
			_, hasMin := item.Min[corev1.ResourceStorage]
			_, hasMax := item.Max[corev1.ResourceStorage]
			if !hasMin && !hasMax {
				errs = append(errs, field.Required(ip.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		errs = append(errs, validateLimitRangeItemOrder(item, ip)...)
	}
	return errs
}

func validateLimitRangeType(t corev1.LimitType, p *field.Path) field.ErrorList {
	errs := validateQuotaResourceName(string(t), p)
	if len(errs) > 0 {
		return errs
	}
	switch t {
	case corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim:
		return nil
	}
	if !strings.Contains(string(t), "/") {
		return field.ErrorList{field.Invalid(p, t, "must be a standard limit type or fully qualified")}
	}
	return nil
}

// validateLimitRangeItemOrder checks min <= defaultRequest <= default <= max, and
// that a limit/request ratio is at least 1.
func validateLimitRangeItemOrder(item *corev1.LimitRangeItem, ip *field.Path) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[corev1.ResourceName]()
	for _, l := range []corev1.ResourceList{item.Min, item.Max, item.Default, item.DefaultRequest, item.MaxLimitRequestRatio} {
		for k := range l {
			names.Insert(k)
		}
	}
	greater := func(a, b resource.Quantity) bool { return a.Cmp(b) > 0 }
	for _, k := range sets.List(names) {
		minQ, hasMin := item.Min[k]
		maxQ, hasMax := item.Max[k]
		defQ, hasDef := item.Default[k]
		reqQ, hasReq := item.DefaultRequest[k]
		ratio, hasRatio := item.MaxLimitRequestRatio[k]
		key := string(k)
		if hasMin && hasMax && greater(minQ, maxQ) {
			errs = append(errs, field.Invalid(ip.Child("min").Key(key), minQ.String(), fmt.Sprintf("min value %s is greater than max value %s", minQ.String(), maxQ.String())))
		}
		if hasReq && hasMin && greater(minQ, reqQ) {
			errs = append(errs, field.Invalid(ip.Child("defaultRequest").Key(key), reqQ.String(), fmt.Sprintf("min value %s is greater than default request value %s", minQ.String(), reqQ.String())))
		}
		if hasReq && hasMax && greater(reqQ, maxQ) {
			errs = append(errs, field.Invalid(ip.Child("defaultRequest").Key(key), reqQ.String(), fmt.Sprintf("default request value %s is greater than max value %s", reqQ.String(), maxQ.String())))
		}
		if hasReq && hasDef && greater(reqQ, defQ) {
			errs = append(errs, field.Invalid(ip.Child("defaultRequest").Key(key), reqQ.String(), fmt.Sprintf("default request value %s is greater than default limit value %s", reqQ.String(), defQ.String())))
		}
		if hasDef && hasMin && greater(minQ, defQ) {
			errs = append(errs, field.Invalid(ip.Child("default").Key(key), minQ.String(), fmt.Sprintf("min value %s is greater than default value %s", minQ.String(), defQ.String())))
		}
		if hasDef && hasMax && greater(defQ, maxQ) {
			errs = append(errs, field.Invalid(ip.Child("default").Key(key), maxQ.String(), fmt.Sprintf("default value %s is greater than max value %s", defQ.String(), maxQ.String())))
		}
		if hasRatio && ratio.Cmp(resource.MustParse("1")) < 0 {
			errs = append(errs, field.Invalid(ip.Child("maxLimitRequestRatio").Key(key), ratio.String(), fmt.Sprintf("ratio %s is less than 1", ratio.String())))
		}
	}
	return errs
}
