package quota

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	apiquota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/utils/ptr"
)

func sel(scope corev1.ResourceQuotaScope, op corev1.ScopeSelectorOperator, values ...string) corev1.ScopedResourceSelectorRequirement {
	return corev1.ScopedResourceSelectorRequirement{ScopeName: scope, Operator: op, Values: values}
}

// A priority class selector is a label selector over the pod's class: Exists and
// DoesNotExist ask whether the pod names one, NotIn takes pods that name none.
func TestPriorityClassSelector(t *testing.T) {
	high := podWith(nil, nil)
	high.Spec.PriorityClassName = "high"
	none := podWith(nil, nil)
	pc := corev1.ResourceQuotaScopePriorityClass
	tests := []struct {
		sel  corev1.ScopedResourceSelectorRequirement
		pod  *corev1.Pod
		want bool
	}{
		{sel(pc, corev1.ScopeSelectorOpExists), high, true},
		{sel(pc, corev1.ScopeSelectorOpExists), none, false},
		{sel(pc, corev1.ScopeSelectorOpDoesNotExist), none, true},
		{sel(pc, corev1.ScopeSelectorOpDoesNotExist), high, false},
		{sel(pc, corev1.ScopeSelectorOpIn, "high", "low"), high, true},
		{sel(pc, corev1.ScopeSelectorOpIn, "low"), high, false},
		{sel(pc, corev1.ScopeSelectorOpNotIn, "high"), none, true},
		{sel(pc, corev1.ScopeSelectorOpNotIn, "high"), high, false},
	}
	for _, tt := range tests {
		got, err := podMatchesScope(tt.sel, tt.pod)
		if err != nil || got != tt.want {
			t.Errorf("%s %v on pod of class %q: got %v (%v), want %v", tt.sel.Operator, tt.sel.Values, tt.pod.Spec.PriorityClassName, got, err, tt.want)
		}
	}
}

// A claim falls under each volume attributes class it names: asked for in its
// spec, current in its status, or being applied.
func TestClaimAttributesClassScope(t *testing.T) {
	claim := func(spec, current, target string) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{}
		if spec != "" {
			c.Spec.VolumeAttributesClassName = ptr.To(spec)
		}
		if current != "" {
			c.Status.CurrentVolumeAttributesClassName = ptr.To(current)
		}
		if target != "" {
			c.Status.ModifyVolumeStatus = &corev1.ModifyVolumeStatus{TargetVolumeAttributesClassName: target}
		}
		return c
	}
	vac := corev1.ResourceQuotaScopeVolumeAttributesClass
	rq := func(s corev1.ScopedResourceSelectorRequirement) *corev1.ResourceQuota {
		hard := corev1.ResourceList{"persistentvolumeclaims": q("1")}
		return &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: hard,
			ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{s}}},
			Status: corev1.ResourceQuotaStatus{Hard: hard}}
	}
	tests := []struct {
		name string
		sel  corev1.ScopedResourceSelectorRequirement
		pvc  *corev1.PersistentVolumeClaim
		want bool
	}{
		{"asked for gold", sel(vac, corev1.ScopeSelectorOpIn, "gold"), claim("gold", "", ""), true},
		{"moving from gold to silver, under gold", sel(vac, corev1.ScopeSelectorOpIn, "gold"), claim("silver", "gold", ""), true},
		{"moving from gold to silver, under silver", sel(vac, corev1.ScopeSelectorOpIn, "silver"), claim("silver", "gold", ""), true},
		{"being modified to silver", sel(vac, corev1.ScopeSelectorOpIn, "silver"), claim("", "gold", "silver"), true},
		{"silver only, not gold", sel(vac, corev1.ScopeSelectorOpIn, "gold"), claim("silver", "silver", ""), false},
		{"no class, Exists", sel(vac, corev1.ScopeSelectorOpExists), claim("", "", ""), false},
		{"no class, DoesNotExist", sel(vac, corev1.ScopeSelectorOpDoesNotExist), claim("", "", ""), true},
		{"no class, NotIn", sel(vac, corev1.ScopeSelectorOpNotIn, "gold"), claim("", "", ""), true},
		{"a priority class scope never takes claims", sel(corev1.ResourceQuotaScopePriorityClass, corev1.ScopeSelectorOpExists), claim("gold", "", ""), false},
	}
	e := claimEvaluator(nil)
	for _, tt := range tests {
		got, err := e.Matches(rq(tt.sel), tt.pvc)
		if err != nil || got != tt.want {
			t.Errorf("%s: got %v (%v), want %v", tt.name, got, err, tt.want)
		}
	}
}

// A quota's scope selector measures only the objects it selects, as its scopes do.
func TestMeasureThroughScopeSelector(t *testing.T) {
	long := podWith(corev1.ResourceList{"cpu": q("1")}, nil)
	deadline := podWith(corev1.ResourceList{"cpu": q("2")}, nil)
	deadline.Spec.ActiveDeadlineSeconds = ptr.To(int64(60))
	gold := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{VolumeAttributesClassName: ptr.To("gold"),
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{"storage": q("1Gi")}}}}
	plain := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{"storage": q("5Gi")}}}}
	objs := map[schema.GroupResource][]runtime.Object{
		corev1.Resource("pods"):                   {long, deadline},
		corev1.Resource("persistentvolumeclaims"): {gold, plain},
	}
	list := func(gr schema.GroupResource, _ string) ([]runtime.Object, error) { return objs[gr], nil }
	tests := []struct {
		name string
		hard corev1.ResourceList
		sel  corev1.ScopedResourceSelectorRequirement
		want corev1.ResourceList
	}{
		{"not terminating", corev1.ResourceList{"pods": q("5"), "requests.cpu": q("5")},
			sel(corev1.ResourceQuotaScopeNotTerminating, corev1.ScopeSelectorOpExists), corev1.ResourceList{"pods": q("1"), "requests.cpu": q("1")}},
		{"terminating", corev1.ResourceList{"pods": q("5"), "requests.cpu": q("5")},
			sel(corev1.ResourceQuotaScopeTerminating, corev1.ScopeSelectorOpExists), corev1.ResourceList{"pods": q("1"), "requests.cpu": q("2")}},
		{"gold claims", corev1.ResourceList{"persistentvolumeclaims": q("5"), "requests.storage": q("10Gi")},
			sel(corev1.ResourceQuotaScopeVolumeAttributesClass, corev1.ScopeSelectorOpIn, "gold"),
			corev1.ResourceList{"persistentvolumeclaims": q("1"), "requests.storage": q("1Gi")}},
	}
	for _, tt := range tests {
		rq := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: tt.hard,
			ScopeSelector: &corev1.ScopeSelector{MatchExpressions: []corev1.ScopedResourceSelectorRequirement{tt.sel}}}}
		got, err := Measure(NewRegistry(list), list, rq)
		if err != nil || !apiquota.Equals(got, tt.want) {
			t.Errorf("%s: got %v (%v), want %v", tt.name, got, err, tt.want)
		}
	}
}

// Updates are charged where they change what an object is charged or which quotas
// it falls under: a pod given an active deadline, a claim's status naming a new
// attributes class.
func TestHandlesScopeChanges(t *testing.T) {
	withDeadline := podWith(nil, nil)
	withDeadline.Spec.ActiveDeadlineSeconds = ptr.To(int64(60))
	relabelled := podWith(nil, nil)
	relabelled.Labels = map[string]string{"a": "b"}
	current := &corev1.PersistentVolumeClaim{Status: corev1.PersistentVolumeClaimStatus{CurrentVolumeAttributesClassName: ptr.To("silver")}}
	bound := &corev1.PersistentVolumeClaim{Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	update := func(old, cur runtime.Object, resource, sub string) admission.Attributes {
		return admission.NewAttributesRecord(cur, old, schema.GroupVersionKind{}, "ns", "x",
			corev1.SchemeGroupVersion.WithResource(resource), sub, admission.Update, &metav1.UpdateOptions{}, false, nil)
	}
	for _, tt := range []struct {
		name string
		e    *evaluator
		at   admission.Attributes
		want bool
	}{
		{"pod given a deadline", podEvaluator(nil), update(podWith(nil, nil), withDeadline, "pods", ""), true},
		{"pod relabelled", podEvaluator(nil), update(podWith(nil, nil), relabelled, "pods", ""), false},
		{"claim status names a class", claimEvaluator(nil), update(&corev1.PersistentVolumeClaim{}, current, "persistentvolumeclaims", "status"), true},
		{"claim status bound", claimEvaluator(nil), update(&corev1.PersistentVolumeClaim{}, bound, "persistentvolumeclaims", "status"), false},
	} {
		if got := tt.e.Handles(tt.at); got != tt.want {
			t.Errorf("%s: Handles = %v, want %v", tt.name, got, tt.want)
		}
	}
	if !PodChargeChanged(podWith(nil, nil), withDeadline) {
		t.Error("a pod given a deadline is not recounted")
	}
}
