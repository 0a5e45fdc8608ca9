package resources

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	policyv1beta1 "k8s.io/api/policy/v1beta1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

var (
	rtHPAv1   = schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "HorizontalPodAutoscaler"}
	rtHPAv2   = schema.GroupVersionKind{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"}
	rtEventV1 = schema.GroupVersionKind{Version: "v1", Kind: "Event"}
	rtEventsK = schema.GroupVersionKind{Group: "events.k8s.io", Version: "v1", Kind: "Event"}
	rtPDBv1   = schema.GroupVersionKind{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}
	rtPDBbeta = schema.GroupVersionKind{Group: "policy", Version: "v1beta1", Kind: "PodDisruptionBudget"}
)

func rtConvert(t *testing.T, obj runtime.Object, to schema.GroupVersionKind) runtime.Object {
	t.Helper()
	out, err := Convert(obj, to)
	if err != nil {
		t.Fatalf("Convert to %s: %v", to, err)
	}
	if got := out.GetObjectKind().GroupVersionKind(); got != to {
		t.Fatalf("TypeMeta = %s, want %s", got, to)
	}
	return out
}

// rtRoundTrip converts obj to via and back to its own kind.
func rtRoundTrip(t *testing.T, obj runtime.Object, via, back schema.GroupVersionKind) runtime.Object {
	t.Helper()
	return rtConvert(t, rtConvert(t, obj, via), back)
}

func TestConvertHPAv1RoundTrip(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	in := &autoscalingv1.HorizontalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: "autoscaling/v1", Kind: "HorizontalPodAutoscaler"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", Annotations: map[string]string{"team": "a"}},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr.To[int32](2), MaxReplicas: 10, TargetCPUUtilizationPercentage: ptr.To[int32](60),
		},
		Status: autoscalingv1.HorizontalPodAutoscalerStatus{CurrentReplicas: 3, DesiredReplicas: 4, LastScaleTime: &now,
			CurrentCPUUtilizationPercentage: ptr.To[int32](75)},
	}
	v2 := rtConvert(t, in, rtHPAv2).(*autoscalingv2.HorizontalPodAutoscaler)
	if diff := cmp.Diff([]autoscalingv2.MetricSpec{hpaCPUMetric(60)}, v2.Spec.Metrics, rtCmpOpts); diff != "" {
		t.Errorf("v2 metrics (-want +got):\n%s", diff)
	}
	back := rtConvert(t, v2, rtHPAv1)
	// The v2 status carried the CPU reading, so v1 now also has it in the annotation.
	got := back.(*autoscalingv1.HorizontalPodAutoscaler)
	delete(got.Annotations, hpaCurrentMetricsAnnotation)
	if diff := cmp.Diff(in, got, rtCmpOpts); diff != "" {
		t.Errorf("v1 -> v2 -> v1 (-want +got):\n%s", diff)
	}
}

func TestConvertHPAv2RoundTripKeepsOtherMetrics(t *testing.T) {
	h := rtHPA()
	h.TypeMeta = metav1.TypeMeta{APIVersion: "autoscaling/v2", Kind: "HorizontalPodAutoscaler"}
	h.Spec.MinReplicas = ptr.To[int32](1)
	qps := resource.MustParse("100")
	h.Spec.Metrics = []autoscalingv2.MetricSpec{
		{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
			Metric: autoscalingv2.MetricIdentifier{Name: "qps"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &qps}}},
		{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
			DescribedObject: autoscalingv2.CrossVersionObjectReference{Kind: "Ingress", Name: "web"},
			Metric:          autoscalingv2.MetricIdentifier{Name: "rps"}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: &qps}}},
		hpaCPUMetric(70),
	}
	h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)}}
	h.Status.Conditions = []autoscalingv2.HorizontalPodAutoscalerCondition{{Type: autoscalingv2.AbleToScale, Status: corev1.ConditionTrue, Reason: "ReadyForNewScale"}}
	v1 := rtConvert(t, h, rtHPAv1).(*autoscalingv1.HorizontalPodAutoscaler)
	if v1.Spec.TargetCPUUtilizationPercentage == nil || *v1.Spec.TargetCPUUtilizationPercentage != 70 {
		t.Errorf("targetCPUUtilizationPercentage = %v", v1.Spec.TargetCPUUtilizationPercentage)
	}
	for _, k := range []string{hpaMetricsAnnotation, hpaBehaviorAnnotation, hpaConditionsAnnotation} {
		if v1.Annotations[k] == "" {
			t.Errorf("annotation %s missing", k)
		}
	}
	back := rtConvert(t, v1, rtHPAv2)
	if diff := cmp.Diff(h, back, rtCmpOpts); diff != "" {
		t.Errorf("v2 -> v1 -> v2 (-want +got):\n%s", diff)
	}
}

func TestConvertEventRoundTrip(t *testing.T) {
	ts := metav1.NewTime(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	mt := metav1.NewMicroTime(time.Date(2026, 11, 23, 12, 0, 1, 5000, time.UTC))
	in := &corev1.Event{
		TypeMeta:       metav1.TypeMeta{APIVersion: "v1", Kind: "Event"},
		ObjectMeta:     metav1.ObjectMeta{Name: "web.1", Namespace: "default"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", UID: "u1", FieldPath: "spec.containers{web}"},
		Related:        &corev1.ObjectReference{Kind: "Node", Name: "n1"},
		Reason:         "Pulled", Message: "pulled image", Type: corev1.EventTypeNormal, Action: "Pull",
		Source:         corev1.EventSource{Component: "kubelet", Host: "n1"},
		FirstTimestamp: ts, LastTimestamp: ts, Count: 3, EventTime: mt,
		Series:              &corev1.EventSeries{Count: 2, LastObservedTime: mt},
		ReportingController: "kubelet", ReportingInstance: "kubelet-n1",
	}
	ev := rtConvert(t, in, rtEventsK).(*eventsv1.Event)
	if ev.Note != "pulled image" || ev.Regarding.Name != "web" || ev.DeprecatedCount != 3 || ev.DeprecatedSource.Host != "n1" {
		t.Errorf("events.k8s.io/v1 fields wrong: %+v", ev)
	}
	back := rtConvert(t, ev, rtEventV1)
	if diff := cmp.Diff(runtime.Object(in), back); diff != "" {
		t.Errorf("core -> events/v1 -> core (-want +got):\n%s", diff)
	}
}

func TestConvertPDB(t *testing.T) {
	in := &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: "policy/v1", Kind: "PodDisruptionBudget"},
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: ptr.To(intstr.FromString("50%")),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		Status: policyv1.PodDisruptionBudgetStatus{CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 3},
	}
	if diff := cmp.Diff(runtime.Object(in), rtRoundTrip(t, in, rtPDBbeta, rtPDBv1)); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	// An empty v1beta1 selector matches nothing; it must not become v1's match-all.
	beta := &policyv1beta1.PodDisruptionBudget{Spec: policyv1beta1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{}}}
	v1 := rtConvert(t, beta, rtPDBv1).(*policyv1.PodDisruptionBudget)
	if len(v1.Spec.Selector.MatchExpressions) != 1 {
		t.Errorf("v1 selector = %+v, want the match-none marker", v1.Spec.Selector)
	}
	again := rtConvert(t, v1, rtPDBbeta).(*policyv1beta1.PodDisruptionBudget)
	if diff := cmp.Diff(&metav1.LabelSelector{}, again.Spec.Selector); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestConvertIdentityAndLists(t *testing.T) {
	h := rtHPA()
	out := rtConvert(t, h, schema.GroupVersionKind{Group: "autoscaling", Version: "v2beta2", Kind: "HorizontalPodAutoscaler"})
	if out == runtime.Object(h) || h.APIVersion != "" {
		t.Errorf("identity conversion must copy and leave the input alone")
	}
	list := &autoscalingv2.HorizontalPodAutoscalerList{ListMeta: metav1.ListMeta{ResourceVersion: "9"}, Items: []autoscalingv2.HorizontalPodAutoscaler{*rtHPA()}}
	hpaStrategy{}.Default(&list.Items[0])
	got := rtConvert(t, list, schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "HorizontalPodAutoscalerList"}).(*autoscalingv1.HorizontalPodAutoscalerList)
	if got.ResourceVersion != "9" || len(got.Items) != 1 || *got.Items[0].Spec.TargetCPUUtilizationPercentage != 80 {
		t.Errorf("list conversion = %+v", got)
	}
	if _, err := Convert(rtHPA(), schema.GroupVersionKind{Version: "v1", Kind: "Pod"}); err == nil {
		t.Errorf("HPA -> Pod should fail")
	}
}
