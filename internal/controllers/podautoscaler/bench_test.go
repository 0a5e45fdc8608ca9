package podautoscaler

import (
	"context"
	"fmt"
	"testing"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	metricsv1beta1api "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
)

// In-memory stand-ins for the scale subresource and metrics.k8s.io, so the benchmark
// measures the controller's own work, not a fake clientset's object tracker.
type benchScales struct{ replicas int32 }

func (b benchScales) Scales(ns string) scale.ScaleInterface {
	return benchScale{ns: ns, replicas: b.replicas}
}

type benchScale struct {
	scale.ScaleInterface
	ns       string
	replicas int32
}

func (b benchScale) Get(_ context.Context, _ schema.GroupResource, name string, _ metav1.GetOptions) (*autoscalingv1.Scale, error) {
	return &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: b.ns},
		Spec: autoscalingv1.ScaleSpec{Replicas: b.replicas}, Status: autoscalingv1.ScaleStatus{Replicas: b.replicas, Selector: "app=" + name}}, nil
}

// Update accepts the new scale (the unit tests read the decision from the HPA's status).
func (b benchScale) Update(_ context.Context, _ schema.GroupResource, sc *autoscalingv1.Scale, _ metav1.UpdateOptions) (*autoscalingv1.Scale, error) {
	return sc, nil
}

type benchMetrics map[string][]metricsv1beta1api.PodMetrics

func (b benchMetrics) PodMetricses(ns string) metricsv1beta1.PodMetricsInterface {
	return benchPodMetrics{items: b[ns]}
}

type benchPodMetrics struct {
	metricsv1beta1.PodMetricsInterface
	items []metricsv1beta1api.PodMetrics
}

func (b benchPodMetrics) List(context.Context, metav1.ListOptions) (*metricsv1beta1api.PodMetricsList, error) {
	return &metricsv1beta1api.PodMetricsList{Items: b.items}, nil
}

type resettable struct{ meta.RESTMapper }

func (resettable) Reset() {}

// BenchmarkReconcile1000HPAs is one sync cycle over 1,000 HPAs, each on a Deployment
// of 3 pods at its 50% CPU target (the steady state: nothing to scale). ns/op is
// the cycle; the per-HPA cost is reported as ns/hpa.
func BenchmarkReconcile1000HPAs(b *testing.B) {
	const hpas, podsPer = 1000, 3
	now := time.Now()
	long := metav1.NewTime(now.Add(-time.Hour))
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	metrics := benchMetrics{}
	var objs []*autoscalingv2.HorizontalPodAutoscaler
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	for i := range hpas {
		ns, name := fmt.Sprintf("ns-%d", i), fmt.Sprintf("web-%d", i)
		for j := range podsPer {
			pod := &corev1.Pod{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", name, j), Namespace: ns, Labels: map[string]string{"app": name}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m")}}}}},
				Status: corev1.PodStatus{Phase: corev1.PodRunning, StartTime: &long,
					Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: long}}},
			}
			if err := indexer.Add(pod); err != nil {
				b.Fatal(err)
			}
			metrics[ns] = append(metrics[ns], metricsv1beta1api.PodMetrics{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: ns},
				Timestamp: metav1.NewTime(now), Window: metav1.Duration{Duration: 30 * time.Second},
				Containers: []metricsv1beta1api.ContainerMetrics{{Name: "c", Usage: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m")}}}})
		}
		target := int32(50)
		objs = append(objs, &autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Generation: 1},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: name},
				MaxReplicas:    10,
				Metrics: []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
					Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target}}}},
			},
		})
	}
	s := &syncer{Clients: Clients{Scales: benchScales{replicas: podsPer}, Mapper: resettable{mapper}, Metrics: metrics},
		recorder: &record.FakeRecorder{}, pods: corelisters.NewPodLister(indexer), now: func() time.Time { return now },
		histories: map[string]*history{}}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, h := range objs {
			hpa := h.DeepCopy()
			s.reconcile(ctx, h.Namespace+"/"+h.Name, hpa)
			if hpa.Status.DesiredReplicas != podsPer {
				b.Fatalf("%s: desired %d, want the steady %d (%v)", h.Name, hpa.Status.DesiredReplicas, podsPer, hpa.Status.Conditions)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*hpas), "ns/hpa")
}
