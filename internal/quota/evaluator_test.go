package quota

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	apiquota "k8s.io/apiserver/pkg/quota/v1"
	"k8s.io/utils/ptr"
)

func q(s string) resource.Quantity { return resource.MustParse(s) }

func podWith(requests, limits corev1.ResourceList) *corev1.Pod {
	return &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
		Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}}}}
}

func TestPodUsage(t *testing.T) {
	done := podWith(corev1.ResourceList{"cpu": q("1")}, nil)
	done.Status.Phase = corev1.PodSucceeded
	tests := []struct {
		name string
		pod  *corev1.Pod
		want corev1.ResourceList
	}{
		{"requests and limits", podWith(corev1.ResourceList{"cpu": q("250m"), "memory": q("64Mi")}, corev1.ResourceList{"cpu": q("1")}),
			corev1.ResourceList{"pods": q("1"), "count/pods": q("1"), "cpu": q("250m"), "requests.cpu": q("250m"),
				"memory": q("64Mi"), "requests.memory": q("64Mi"), "limits.cpu": q("1")}},
		{"best effort", podWith(nil, nil), corev1.ResourceList{"pods": q("1"), "count/pods": q("1")}},
		{"finished pods hold nothing but their object", done, corev1.ResourceList{"count/pods": q("1")}},
	}
	for _, tt := range tests {
		got, err := podUsage(tt.pod)
		if err != nil || !apiquota.Equals(got, tt.want) {
			t.Errorf("%s: got %v (%v), want %v", tt.name, got, err, tt.want)
		}
	}
}

func TestPodScopes(t *testing.T) {
	best := podWith(nil, nil)
	burst := podWith(corev1.ResourceList{"cpu": q("1")}, nil)
	burst.Spec.ActiveDeadlineSeconds = ptr.To(int64(60))
	burst.Spec.PriorityClassName = "high"
	exists := func(s corev1.ResourceQuotaScope) corev1.ScopedResourceSelectorRequirement {
		return corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists}
	}
	tests := []struct {
		sel  corev1.ScopedResourceSelectorRequirement
		pod  *corev1.Pod
		want bool
	}{
		{exists(corev1.ResourceQuotaScopeBestEffort), best, true},
		{exists(corev1.ResourceQuotaScopeBestEffort), burst, false},
		{exists(corev1.ResourceQuotaScopeNotBestEffort), burst, true},
		{exists(corev1.ResourceQuotaScopeTerminating), burst, true},
		{exists(corev1.ResourceQuotaScopeTerminating), best, false},
		{exists(corev1.ResourceQuotaScopeNotTerminating), best, true},
		{corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"high"}}, burst, true},
		{corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpIn, Values: []string{"high"}}, best, false},
		{corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: corev1.ScopeSelectorOpNotIn, Values: []string{"high"}}, best, true},
	}
	for _, tt := range tests {
		got, err := podMatchesScope(tt.sel, tt.pod)
		if err != nil || got != tt.want {
			t.Errorf("%s %s %v on %s pod: got %v (%v), want %v", tt.sel.ScopeName, tt.sel.Operator, tt.sel.Values, tt.pod.Spec.PriorityClassName, got, err, tt.want)
		}
	}
}

func TestServiceAndClaimUsage(t *testing.T) {
	lb := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}, {Port: 443}}}}
	got, _ := serviceUsage(lb)
	want := corev1.ResourceList{"services": q("1"), "count/services": q("1"), "services.loadbalancers": q("1"), "services.nodeports": q("2")}
	if !apiquota.Equals(got, want) {
		t.Errorf("load balancer: got %v, want %v", got, want)
	}
	pvc := &corev1.PersistentVolumeClaim{Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("fast"),
		Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{"storage": q("5Gi")}}}}
	got, _ = claimUsage(pvc)
	want = corev1.ResourceList{"persistentvolumeclaims": q("1"), "count/persistentvolumeclaims": q("1"), "requests.storage": q("5Gi"),
		"fast.storageclass.storage.k8s.io/requests.storage": q("5Gi"), "fast.storageclass.storage.k8s.io/persistentvolumeclaims": q("1")}
	if !apiquota.Equals(got, want) {
		t.Errorf("claim: got %v, want %v", got, want)
	}
	if m := claimEvaluator(nil).MatchingResources([]corev1.ResourceName{"fast.storageclass.storage.k8s.io/requests.storage", "pods"}); len(m) != 1 {
		t.Errorf("claim evaluator matches %v, want only the per-class storage", m)
	}
}

func TestMeasureCountsAnyResource(t *testing.T) {
	objs := map[schema.GroupResource][]runtime.Object{
		{Group: "apps", Resource: "deployments"}: {&corev1.Pod{}, &corev1.Pod{}}, // any object counts as one
		corev1.Resource("pods"):                  {podWith(corev1.ResourceList{"cpu": q("1")}, nil)},
	}
	list := func(gr schema.GroupResource, _ string) ([]runtime.Object, error) { return objs[gr], nil }
	rq := &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
		"count/deployments.apps": q("5"), "requests.cpu": q("4"), "count/widgets.example.com": q("1")}}}
	got, err := Measure(NewRegistry(list), list, rq)
	want := corev1.ResourceList{"count/deployments.apps": q("2"), "requests.cpu": q("1"), "count/widgets.example.com": q("0")}
	if err != nil || !apiquota.Equals(got, want) {
		t.Errorf("got %v (%v), want %v", got, err, want)
	}
}

// resizedTo is p after a resize of its container's cpu to spec, with the kubelet
// having allocated (and applied) allocated.
func resizedTo(spec, allocated string) *corev1.Pod {
	p := podWith(corev1.ResourceList{"cpu": q(spec)}, corev1.ResourceList{"cpu": q(spec)})
	if allocated != "" {
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "c", AllocatedResources: corev1.ResourceList{"cpu": q(allocated)},
			Resources: &corev1.ResourceRequirements{Requests: corev1.ResourceList{"cpu": q(allocated)}, Limits: corev1.ResourceList{"cpu": q(allocated)}}}}
	}
	return p
}

// A pod resized in place is charged the larger of its spec and its allocation: a
// resize up at once, a resize down once the kubelet has applied it.
func TestPodUsageDuringInPlaceResize(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want string
	}{
		{"not started", resizedTo("500m", ""), "500m"},
		{"resize up asked", resizedTo("2", "500m"), "2"},
		{"resize down asked", resizedTo("200m", "500m"), "500m"},
		{"resize down applied", resizedTo("200m", "200m"), "200m"},
	}
	for _, tt := range tests {
		got, err := podUsage(tt.pod)
		if err != nil || got.Name("requests.cpu", resource.DecimalSI).Cmp(q(tt.want)) != 0 || got.Name("limits.cpu", resource.DecimalSI).Cmp(q(tt.want)) != 0 {
			t.Errorf("%s: got %v (%v), want requests.cpu and limits.cpu %s", tt.name, got, err, tt.want)
		}
	}
	if !PodChargeChanged(resizedTo("200m", "500m"), resizedTo("200m", "200m")) {
		t.Error("an applied resize down does not count as a change of usage")
	}
	if PodChargeChanged(resizedTo("500m", ""), resizedTo("500m", "500m")) {
		t.Error("the kubelet allocating what the spec asks counts as a change of usage")
	}
}

// Pods are charged on creation and on resizes; other updates (but a deadline set,
// TestHandlesScopeChanges) and subresources of pods, and resizes of anything else,
// are not quota's business.
func TestHandlesResizes(t *testing.T) {
	attrs := func(op admission.Operation, sub string) admission.Attributes {
		return admission.NewAttributesRecord(&corev1.Pod{}, &corev1.Pod{}, corev1.SchemeGroupVersion.WithKind("Pod"), "ns", "p",
			corev1.SchemeGroupVersion.WithResource("pods"), sub, op, nil, false, nil)
	}
	pods, services := podEvaluator(nil), serviceEvaluator(nil)
	for _, tt := range []struct {
		e    *evaluator
		op   admission.Operation
		sub  string
		want bool
	}{
		{pods, admission.Create, "", true},
		{pods, admission.Update, "resize", true},
		{pods, admission.Update, "", false},
		{pods, admission.Update, "status", false},
		{services, admission.Update, "", true},
		{services, admission.Update, "resize", false},
	} {
		if got := tt.e.Handles(attrs(tt.op, tt.sub)); got != tt.want {
			t.Errorf("%s %s %q: Handles = %v, want %v", tt.e.gr, tt.op, tt.sub, got, tt.want)
		}
	}
}
