package resources

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func rtQuota(hard string, scopes []corev1.ResourceQuotaScope, exprs ...corev1.ScopedResourceSelectorRequirement) *corev1.ResourceQuota {
	rq := &corev1.ResourceQuota{ObjectMeta: rtMeta("q"), Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{}, Scopes: scopes}}
	for _, name := range strings.Fields(hard) {
		rq.Spec.Hard[corev1.ResourceName(name)] = resource.MustParse("1")
	}
	if exprs != nil {
		rq.Spec.ScopeSelector = &corev1.ScopeSelector{MatchExpressions: exprs}
	}
	return rq
}

func scopeReq(scope corev1.ResourceQuotaScope, op corev1.ScopeSelectorOperator, values ...string) corev1.ScopedResourceSelectorRequirement {
	return corev1.ScopedResourceSelectorRequirement{ScopeName: scope, Operator: op, Values: values}
}

// Scopes and scope selectors are validated as in Kubernetes: each scope goes with
// the resources its objects consume, boolean pod scopes are selected with Exists
// only, In/NotIn need values and Exists/DoesNotExist take none; every error names
// the expression it is about.
func TestQuotaScopeValidation(t *testing.T) {
	const (
		exists = corev1.ScopeSelectorOpExists
		in     = corev1.ScopeSelectorOpIn
	)
	tests := []struct {
		name string
		rq   *corev1.ResourceQuota
		want []rtErr
	}{
		{"not-terminating selector on pods and compute", rtQuota("pods requests.cpu limits.memory count/pods", nil,
			scopeReq(corev1.ResourceQuotaScopeNotTerminating, exists)), nil},
		{"priority class In", rtQuota("pods cpu", nil, scopeReq(corev1.ResourceQuotaScopePriorityClass, in, "high", "low")), nil},
		{"volume attributes class on claims and storage", rtQuota("persistentvolumeclaims requests.storage", nil,
			scopeReq(corev1.ResourceQuotaScopeVolumeAttributesClass, corev1.ScopeSelectorOpNotIn, "gold")), nil},
		{"cross-namespace affinity scope", rtQuota("pods", []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeCrossNamespacePodAffinity}), nil},
		{"terminating with DoesNotExist", rtQuota("pods", nil, scopeReq(corev1.ResourceQuotaScopeTerminating, corev1.ScopeSelectorOpDoesNotExist)),
			[]rtErr{{field.ErrorTypeInvalid, "spec.scopeSelector.matchExpressions[0].operator"}}},
		{"best effort In with values", rtQuota("pods", nil, scopeReq(corev1.ResourceQuotaScopeBestEffort, in, "x")),
			[]rtErr{{field.ErrorTypeInvalid, "spec.scopeSelector.matchExpressions[0].operator"}}},
		{"In without values", rtQuota("pods", nil, scopeReq(corev1.ResourceQuotaScopePriorityClass, in)),
			[]rtErr{{field.ErrorTypeRequired, "spec.scopeSelector.matchExpressions[0].values"}}},
		{"Exists with values", rtQuota("pods", nil, scopeReq(corev1.ResourceQuotaScopePriorityClass, exists, "high")),
			[]rtErr{{field.ErrorTypeInvalid, "spec.scopeSelector.matchExpressions[0].values"}}},
		{"unknown operator", rtQuota("pods", nil, scopeReq(corev1.ResourceQuotaScopePriorityClass, "Near", "high")),
			[]rtErr{{field.ErrorTypeNotSupported, "spec.scopeSelector.matchExpressions[0].operator"}}},
		{"unknown scope", rtQuota("pods", nil, scopeReq("Sleepy", exists)),
			[]rtErr{{field.ErrorTypeNotSupported, "spec.scopeSelector.matchExpressions[0].scopeName"}}},
		{"value that is no label value", rtQuota("pods", nil, scopeReq(corev1.ResourceQuotaScopePriorityClass, in, "not a name")),
			[]rtErr{{field.ErrorTypeInvalid, "spec.scopeSelector.matchExpressions[0].values[0]"}}},
		{"best effort selector with cpu", rtQuota("pods cpu", nil, scopeReq(corev1.ResourceQuotaScopeBestEffort, exists)),
			[]rtErr{{field.ErrorTypeInvalid, "spec.scopeSelector.matchExpressions[0].scopeName"}}},
		{"volume attributes class selector on pods", rtQuota("pods", nil, scopeReq(corev1.ResourceQuotaScopeVolumeAttributesClass, in, "gold")),
			[]rtErr{{field.ErrorTypeInvalid, "spec.scopeSelector.matchExpressions[0].scopeName"}}},
		{"terminating scope on services", rtQuota("services", []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeTerminating}),
			[]rtErr{{field.ErrorTypeInvalid, "spec.scopes"}}},
		{"conflicting selectors", rtQuota("pods", nil, scopeReq(corev1.ResourceQuotaScopeTerminating, exists), scopeReq(corev1.ResourceQuotaScopeNotTerminating, exists)),
			[]rtErr{{field.ErrorTypeInvalid, "spec.scopeSelector.matchExpressions"}}},
		{"conflicting scopes", rtQuota("pods", []corev1.ResourceQuotaScope{corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort}),
			[]rtErr{{field.ErrorTypeInvalid, "spec.scopes"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := rtCreate(resourceQuotaStrategy{}, tt.rq)
			if diff := cmp.Diff(tt.want, rtErrs(errs)); diff != "" {
				t.Errorf("(-want +got):\n%s\n%v", diff, errs)
			}
		})
	}
}
