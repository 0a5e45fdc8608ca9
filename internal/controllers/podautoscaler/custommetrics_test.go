package podautoscaler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	cmv1beta2 "k8s.io/metrics/pkg/apis/custom_metrics/v1beta2"
	emv1beta1 "k8s.io/metrics/pkg/apis/external_metrics/v1beta1"
	custommetrics "k8s.io/metrics/pkg/client/custom_metrics"
	externalmetrics "k8s.io/metrics/pkg/client/external_metrics"
)

func TestValueReplicas(t *testing.T) {
	tests := []struct {
		name    string
		current int32
		ratio   float64
		ready   int
		want    int32
	}{
		// The documented Ingress example: 20k requests per second against a 10k
		// target with 2 ready pods asks for 4.
		{"twice the target doubles the ready pods", 2, 2.0, 2, 4},
		{"within the tolerance nothing moves", 4, 1.08, 4, 4},
		{"half the target halves the ready pods", 4, 0.5, 4, 2},
		{"only ready pods are scaled", 4, 2.0, 1, 2},
		{"from zero replicas the ratio is the count", 0, 2.5, 0, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := valueReplicas(tc.current, tc.ratio, func() (int, error) { return tc.ready, nil })
			if err != nil || got != tc.want {
				t.Errorf("valueReplicas(%d, %v) = %d, %v; want %d", tc.current, tc.ratio, got, err, tc.want)
			}
		})
	}
}

func TestPerReplicaReplicas(t *testing.T) {
	tests := []struct {
		name          string
		replicas      int32
		usage, target int64
		want          int32
		wantAvg       int64
	}{
		// The documented queue example: 30 messages per replica; 120 waiting
		// messages with 2 replicas ask for 4.
		{"a queue shared by replicas", 2, 120_000, 30_000, 4, 60_000},
		{"within the tolerance the count stays", 4, 125_000, 30_000, 4, 31_250},
		{"an empty queue asks for none (min applies later)", 3, 0, 30_000, 0, 0},
		{"a target with no replicas yet", 0, 50_000, 30_000, 2, 50_000},
		{"a fractional value rounds the replicas up", 1, 31_500, 10_000, 4, 31_500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, avg := perReplicaReplicas(tc.replicas, tc.usage, tc.target)
			if got != tc.want || avg != tc.wantAvg {
				t.Errorf("perReplicaReplicas(%d, %d, %d) = %d, %d; want %d, %d", tc.replicas, tc.usage, tc.target, got, avg, tc.want, tc.wantAvg)
			}
		})
	}
}

func TestReadyPods(t *testing.T) {
	ps := pods(3, 100)
	ps[1].Status.Conditions[0].Status = corev1.ConditionFalse
	ps[2].Status.Phase = corev1.PodPending
	if n, err := readyPods(ps); n != 1 || err != nil {
		t.Errorf("readyPods = %d, %v; want 1", n, err)
	}
	if _, err := readyPods(nil); err == nil {
		t.Error("readyPods(no pods) succeeded, want an error")
	}
}

// fakeCustom serves custom.metrics.k8s.io values by "Kind/name/metric" (name "*" for
// the pods a selector picks, answered per pod of pods), or fails with err.
type fakeCustom struct {
	values map[string]string
	pods   []string
	err    error
	asked  []string
}

func (f *fakeCustom) RootScopedMetrics() custommetrics.MetricsInterface { return fakeScope{f, ""} }
func (f *fakeCustom) NamespacedMetrics(ns string) custommetrics.MetricsInterface {
	return fakeScope{f, ns}
}

type fakeScope struct {
	f  *fakeCustom
	ns string
}

func (s fakeScope) GetForObject(gk schema.GroupKind, name, metric string, _ labels.Selector) (*cmv1beta2.MetricValue, error) {
	key := fmt.Sprintf("%s/%s/%s", gk.Kind, name, metric)
	s.f.asked = append(s.f.asked, s.ns+":"+key)
	v, ok := s.f.values[key]
	if s.f.err != nil || !ok {
		return nil, errors.Join(s.f.err, fmt.Errorf("%s not found", key))
	}
	return &cmv1beta2.MetricValue{Value: resource.MustParse(v)}, nil
}

func (s fakeScope) GetForObjects(gk schema.GroupKind, sel labels.Selector, metric string, _ labels.Selector) (*cmv1beta2.MetricValueList, error) {
	s.f.asked = append(s.f.asked, fmt.Sprintf("%s:%s/*/%s?%s", s.ns, gk.Kind, metric, sel))
	if s.f.err != nil {
		return nil, s.f.err
	}
	list := &cmv1beta2.MetricValueList{}
	for _, name := range s.f.pods {
		if v, ok := s.f.values[fmt.Sprintf("%s/%s/%s", gk.Kind, name, metric)]; ok {
			list.Items = append(list.Items, cmv1beta2.MetricValue{DescribedObject: corev1.ObjectReference{Kind: gk.Kind, Name: name},
				Value: resource.MustParse(v)})
		}
	}
	return list, nil
}

// fakeExternal serves external.metrics.k8s.io series by metric name.
type fakeExternal struct {
	series map[string][]string
	err    error
}

func (f *fakeExternal) NamespacedMetrics(string) externalmetrics.MetricsInterface { return f }

func (f *fakeExternal) List(name string, _ labels.Selector) (*emv1beta1.ExternalMetricValueList, error) {
	if f.err != nil {
		return nil, f.err
	}
	list := &emv1beta1.ExternalMetricValueList{}
	for _, v := range f.series[name] {
		list.Items = append(list.Items, emv1beta1.ExternalMetricValue{MetricName: name, Value: resource.MustParse(v)})
	}
	return list, nil
}

// customSyncer is a syncer over 3 ready pods of a Deployment "web" at 3 replicas.
func customSyncer(t *testing.T, custom *fakeCustom, external *fakeExternal) (*syncer, *record.FakeRecorder) {
	t.Helper()
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, p := range pods(3, 100) {
		p.Namespace, p.Labels = "default", map[string]string{"app": "web"}
		if err := indexer.Add(p); err != nil {
			t.Fatal(err)
		}
	}
	mapper := meta.NewDefaultRESTMapper(nil)
	mapper.Add(schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"}, meta.RESTScopeNamespace)
	mapper.Add(schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}, meta.RESTScopeRoot)
	rec := record.NewFakeRecorder(20)
	s := &syncer{Clients: Clients{Scales: benchScales{replicas: 3}, Mapper: resettable{mapper}},
		recorder: rec, pods: corelisters.NewPodLister(indexer), now: func() time.Time { return t0 },
		histories: map[string]*history{}}
	if custom != nil {
		s.Custom = custom
	}
	if external != nil {
		s.External = external
	}
	return s, rec
}

func hpaWith(metrics ...autoscalingv2.MetricSpec) *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    20, Metrics: metrics,
		},
	}
}

func podsMetric(name, avg string) autoscalingv2.MetricSpec {
	q := resource.MustParse(avg)
	return autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: name}, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &q}}}
}

func objectMetric(name string, target autoscalingv2.MetricTarget) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ObjectMetricSourceType, Object: &autoscalingv2.ObjectMetricSource{
		DescribedObject: autoscalingv2.CrossVersionObjectReference{APIVersion: "networking.k8s.io/v1", Kind: "Ingress", Name: "main-route"},
		Metric:          autoscalingv2.MetricIdentifier{Name: name}, Target: target}}
}

func externalMetric(name string, target autoscalingv2.MetricTarget) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
		Metric: autoscalingv2.MetricIdentifier{Name: name, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"queue": "jobs"}}},
		Target: target}}
}

func value(q string) autoscalingv2.MetricTarget {
	v := resource.MustParse(q)
	return autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: &v}
}

func average(q string) autoscalingv2.MetricTarget {
	v := resource.MustParse(q)
	return autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: &v}
}

func TestCustomAndExternalMetricsScale(t *testing.T) {
	custom := &fakeCustom{pods: []string{"p0", "p1", "p2"}, values: map[string]string{
		"Pod/p0/packets-per-second": "1500", "Pod/p1/packets-per-second": "1500", "Pod/p2/packets-per-second": "1500",
		"Ingress/main-route/requests-per-second": "20k",
	}}
	external := &fakeExternal{series: map[string][]string{"queue_messages_ready": {"100", "50"}}}
	tests := []struct {
		name    string
		metric  autoscalingv2.MetricSpec
		want    int32
		current string // the status kubectl shows, as Kubernetes writes it
	}{
		{"pods: 1.5k per pod against 1k", podsMetric("packets-per-second", "1k"), 5, "AverageValue=1500"},
		{"object value: 20k against 10k", objectMetric("requests-per-second", value("10k")), 6, "Value=20k"},
		{"object average: 20k over 3 against 5k each", objectMetric("requests-per-second", average("5k")), 4, "AverageValue=6666667m"},
		{"external value: 150 against 100", externalMetric("queue_messages_ready", value("100")), 5, "Value=150"},
		{"external average: 150 against 30 each", externalMetric("queue_messages_ready", average("30")), 5, "AverageValue=50"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := customSyncer(t, custom, external)
			hpa := hpaWith(tc.metric)
			s.reconcile(context.Background(), "default/web", hpa)
			if hpa.Status.DesiredReplicas != tc.want {
				t.Errorf("desired = %d, want %d (%v)", hpa.Status.DesiredReplicas, tc.want, hpa.Status.Conditions)
			}
			if got := currentOf(hpa.Status.CurrentMetrics[0]); got != tc.current {
				t.Errorf("current metric = %s, want %s", got, tc.current)
			}
			if c := condition(&hpa.Status, autoscalingv2.ScalingActive); c.Status != corev1.ConditionTrue || c.Reason != "ValidMetricFound" {
				t.Errorf("ScalingActive = %+v", c)
			}
			if ev := <-rec.Events; !strings.Contains(ev, "SuccessfulRescale") {
				t.Errorf("event %q, want SuccessfulRescale", ev)
			}
		})
	}
}

func currentOf(st autoscalingv2.MetricStatus) string {
	var cur autoscalingv2.MetricValueStatus
	switch {
	case st.Pods != nil:
		cur = st.Pods.Current
	case st.Object != nil:
		cur = st.Object.Current
	case st.External != nil:
		cur = st.External.Current
	}
	switch {
	case cur.Value != nil:
		return "Value=" + cur.Value.String()
	case cur.AverageValue != nil:
		return "AverageValue=" + cur.AverageValue.String()
	}
	return "none"
}

func condition(hpa *autoscalingv2.HorizontalPodAutoscalerStatus, t autoscalingv2.HorizontalPodAutoscalerConditionType) autoscalingv2.HorizontalPodAutoscalerCondition {
	for _, c := range hpa.Conditions {
		if c.Type == t {
			return c
		}
	}
	return autoscalingv2.HorizontalPodAutoscalerCondition{}
}

func TestObjectMetricOnANamespaceIsAskedAtTheRoot(t *testing.T) {
	custom := &fakeCustom{values: map[string]string{"Namespace/default/jobs-waiting": "4"}}
	s, _ := customSyncer(t, custom, nil)
	m := objectMetric("jobs-waiting", value("4"))
	m.Object.DescribedObject = autoscalingv2.CrossVersionObjectReference{APIVersion: "v1", Kind: "Namespace", Name: "default"}
	hpa := hpaWith(m)
	s.reconcile(context.Background(), "default/web", hpa)
	if want := []string{":Namespace/default/jobs-waiting"}; fmt.Sprint(custom.asked) != fmt.Sprint(want) {
		t.Errorf("asked %v, want %v", custom.asked, want)
	}
	if hpa.Status.DesiredReplicas != 3 {
		t.Errorf("desired = %d, want 3 (at target)", hpa.Status.DesiredReplicas)
	}
}

// With the APIs absent or failing, ScalingActive says which kind of metric failed
// and why, the event says so, and nothing is scaled.
func TestCustomMetricsUnavailable(t *testing.T) {
	absent := errors.New(`no custom metrics API (custom.metrics.k8s.io) registered`)
	tests := []struct {
		name    string
		metric  autoscalingv2.MetricSpec
		reason  string
		message string
	}{
		{"pods", podsMetric("packets-per-second", "1k"), "FailedGetPodsMetric",
			"failed to get pods metric value: unable to get metric packets-per-second: unable to fetch metrics from custom metrics API: no custom metrics API"},
		{"object", objectMetric("requests-per-second", value("10k")), "FailedGetObjectMetric",
			"failed to get object metric value: unable to get metric requests-per-second: Ingress default/main-route: unable to fetch metrics from custom metrics API: no custom metrics API"},
		{"external", externalMetric("queue_messages_ready", average("30")), "FailedGetExternalMetric",
			"failed to get external metric value: unable to get external metric default/queue_messages_ready/queue=jobs: unable to fetch metrics from external metrics API: the server could not find"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, rec := customSyncer(t, &fakeCustom{err: absent},
				&fakeExternal{err: errors.New("the server could not find the requested resource")})
			hpa := hpaWith(tc.metric)
			s.reconcile(context.Background(), "default/web", hpa)
			c := condition(&hpa.Status, autoscalingv2.ScalingActive)
			if c.Status != corev1.ConditionFalse || c.Reason != tc.reason || !strings.Contains(c.Message, tc.message) {
				t.Errorf("ScalingActive = %s %s %q, want False %s containing %q", c.Status, c.Reason, c.Message, tc.reason, tc.message)
			}
			if hpa.Status.DesiredReplicas != 0 {
				t.Errorf("desired = %d, want none computed", hpa.Status.DesiredReplicas)
			}
			if ev := <-rec.Events; !strings.HasPrefix(ev, "Warning "+tc.reason+" ") {
				t.Errorf("event %q, want a %s warning", ev, tc.reason)
			}
		})
	}
}

// An Object metric on a kind the API does not serve says so.
func TestObjectMetricOnAnUnknownKind(t *testing.T) {
	custom := &fakeCustom{values: map[string]string{"Widget/w/load": "4"}}
	s, _ := customSyncer(t, custom, nil)
	m := objectMetric("load", value("4"))
	m.Object.DescribedObject = autoscalingv2.CrossVersionObjectReference{APIVersion: "example.com/v1", Kind: "Widget", Name: "w"}
	hpa := hpaWith(m)
	s.reconcile(context.Background(), "default/web", hpa)
	c := condition(&hpa.Status, autoscalingv2.ScalingActive)
	if want := "unable to map kind Widget.example.com to a resource"; c.Reason != "FailedGetObjectMetric" || !strings.Contains(c.Message, want) {
		t.Errorf("ScalingActive = %s %q, want FailedGetObjectMetric with %q", c.Reason, c.Message, want)
	}
	if len(custom.asked) != 0 {
		t.Errorf("asked the adapter %v for an unmapped kind", custom.asked)
	}
}

// A failing metric beside a working one: the working one decides, but only upwards,
// and its status keeps its position.
func TestOneCustomMetricFails(t *testing.T) {
	external := &fakeExternal{series: map[string][]string{"queue_messages_ready": {"30"}}}
	s, _ := customSyncer(t, &fakeCustom{err: errors.New("adapter down")}, external)
	hpa := hpaWith(podsMetric("packets-per-second", "1k"), externalMetric("queue_messages_ready", average("30")))
	s.reconcile(context.Background(), "default/web", hpa)
	if hpa.Status.DesiredReplicas != 3 {
		t.Errorf("desired = %d, want 3: one replica's worth of queue must not scale down on partial data", hpa.Status.DesiredReplicas)
	}
	if st := hpa.Status.CurrentMetrics; len(st) != 2 || st[0].Type != "" || st[1].External == nil {
		t.Errorf("current metrics = %+v, want [empty, external]", st)
	}
}
