package podautoscaler

import (
	"context"
	"fmt"
	"sync"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	autoscalinglisters "k8s.io/client-go/listers/autoscaling/v2"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
	custommetrics "k8s.io/metrics/pkg/client/custom_metrics"
	externalmetrics "k8s.io/metrics/pkg/client/external_metrics"

	"skiff/internal/controllers/controller"
	"skiff/internal/resources"
)

// SyncPeriod is how often each HPA is reconciled (kube-controller-manager's
// --horizontal-pod-autoscaler-sync-period).
const SyncPeriod = 15 * time.Second

// Clients are what the autoscaler reaches beyond the shared informers: the targets'
// scale subresources (any kind, found through discovery), metrics.k8s.io, and the
// custom and external metrics APIs that an aggregated API server may serve.
type Clients struct {
	Scales   scale.ScalesGetter
	Mapper   meta.ResettableRESTMapper
	Metrics  metricsv1beta1.PodMetricsesGetter
	Custom   custommetrics.CustomMetricsClient
	External externalmetrics.ExternalMetricsClient
	// CustomVersions is the custom metrics API version Custom asks for, found through
	// discovery; it is forgotten every sync period, so that an adapter registered (or
	// upgraded) later is found.
	CustomVersions custommetrics.AvailableAPIsGetter
}

type syncer struct {
	Clients
	c        *controller.Context
	ctl      *controller.Controller
	recorder record.EventRecorder
	hpas     autoscalinglisters.HorizontalPodAutoscalerLister
	pods     corelisters.PodLister
	now      func() time.Time

	mu        sync.Mutex
	histories map[string]*history
}

// Runner is the controller together with the upkeep of its custom metrics client.
type Runner struct {
	*controller.Controller
	versions custommetrics.AvailableAPIsGetter
}

// Run works the queue until ctx ends.
func (r Runner) Run(ctx context.Context) {
	if r.versions != nil {
		go custommetrics.PeriodicallyInvalidate(r.versions, SyncPeriod, ctx.Done())
	}
	r.Controller.Run(ctx)
}

// New returns the horizontal pod autoscaler controller.
func New(c *controller.Context, clients Clients) Runner {
	s := &syncer{Clients: clients, c: c, recorder: c.Recorder("horizontal-pod-autoscaler"), now: time.Now,
		histories: map[string]*history{}}
	s.ctl = controller.New("horizontalpodautoscaling", s.sync, 2)
	hpaInf := c.Informers.Autoscaling().V2().HorizontalPodAutoscalers()
	podInf := c.Informers.Core().V1().Pods()
	s.hpas, s.pods = hpaInf.Lister(), podInf.Lister()
	s.ctl.Watch(hpaInf.Informer(), s.ctl.Handler())
	s.ctl.HasSynced = append(s.ctl.HasSynced, podInf.Informer().HasSynced)
	return Runner{Controller: s.ctl, versions: clients.CustomVersions}
}

func (s *syncer) sync(ctx context.Context, key string) error {
	ns, name, _ := cache.SplitMetaNamespaceKey(key)
	cached, err := s.hpas.HorizontalPodAutoscalers(ns).Get(name)
	if apierrors.IsNotFound(err) {
		s.mu.Lock()
		delete(s.histories, key)
		s.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	hpa := cached.DeepCopy()
	s.reconcile(ctx, key, hpa)
	if !apiequality.Semantic.DeepEqual(hpa.Status, cached.Status) {
		if _, err := s.c.Client.AutoscalingV2().HorizontalPodAutoscalers(ns).UpdateStatus(ctx, hpa, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	s.ctl.Queue.AddAfter(key, SyncPeriod)
	return nil
}

// reconcile brings the target to the replica count the metrics ask for and records
// what it saw and did in hpa.Status.
func (s *syncer) reconcile(ctx context.Context, key string, hpa *autoscalingv2.HorizontalPodAutoscaler) {
	now := s.now()
	hpa.Status.ObservedGeneration = &hpa.Generation
	sc, gr, err := s.targetScale(ctx, hpa)
	if err != nil {
		s.recorder.Event(hpa, corev1.EventTypeWarning, "FailedGetScale", err.Error())
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedGetScale", "the HPA controller was unable to get the target's current scale: %v", err)
		return
	}
	setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededGetScale", "the HPA controller was able to get the target's current scale")
	current := sc.Spec.Replicas
	hpa.Status.CurrentReplicas = sc.Status.Replicas
	minReplicas := int32(1)
	if hpa.Spec.MinReplicas != nil {
		minReplicas = *hpa.Spec.MinReplicas
	}
	var desired int32
	var reason string
	switch {
	case current == 0 && minReplicas != 0:
		setCondition(hpa, autoscalingv2.ScalingActive, corev1.ConditionFalse, "ScalingDisabled", "scaling is disabled since the replica count of the target is zero")
		hpa.Status.DesiredReplicas = 0
		return
	case current > hpa.Spec.MaxReplicas:
		desired, reason = hpa.Spec.MaxReplicas, "Current number of replicas above Spec.MaxReplicas"
	case current < minReplicas:
		desired, reason = minReplicas, "Current number of replicas below Spec.MinReplicas"
	default:
		proposal, metricReason, ok := s.fromMetrics(ctx, hpa, current, sc.Status.Selector, now)
		if !ok {
			return
		}
		desired, reason = s.normalize(key, hpa, now, current, minReplicas, proposal), metricReason
	}
	hpa.Status.DesiredReplicas = desired
	if desired == current {
		return
	}
	sc.Spec.Replicas = desired
	if _, err := s.Scales.Scales(hpa.Namespace).Update(ctx, gr, sc, metav1.UpdateOptions{}); err != nil {
		s.recorder.Eventf(hpa, corev1.EventTypeWarning, "FailedRescale", "New size: %d; reason: %s; error: %v", desired, reason, err)
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionFalse, "FailedUpdateScale", "the HPA controller was unable to update the target scale: %v", err)
		return
	}
	s.recorder.Eventf(hpa, corev1.EventTypeNormal, "SuccessfulRescale", "New size: %d; reason: %s", desired, reason)
	setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "SucceededRescale", "the HPA controller was able to update the target scale to %d", desired)
	s.historyOf(key).record(now, resources.HPABehaviorWithDefaults(hpa.Spec.Behavior.DeepCopy()), current, desired)
	t := metav1.NewTime(now)
	hpa.Status.LastScaleTime = &t
}

// targetScale reads the target's scale subresource, whatever its kind.
func (s *syncer) targetScale(ctx context.Context, hpa *autoscalingv2.HorizontalPodAutoscaler) (*autoscalingv1.Scale, schema.GroupResource, error) {
	ref := hpa.Spec.ScaleTargetRef
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, schema.GroupResource{}, fmt.Errorf("invalid API version in scale target reference: %v", err)
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: ref.Kind}
	mapping, err := s.Mapper.RESTMapping(gk, gv.Version)
	if err != nil {
		s.Mapper.Reset() // the kind may be new (a custom resource): ask discovery again next time
		return nil, schema.GroupResource{}, fmt.Errorf("unable to determine resource for scale target reference: %v", err)
	}
	gr := mapping.Resource.GroupResource()
	sc, err := s.Scales.Scales(hpa.Namespace).Get(ctx, gr, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, gr, err
	}
	return sc, gr, nil
}

// normalize tempers the metrics' proposal by the stabilization windows, the scaling
// policies and min/max, and says so in the AbleToScale and ScalingLimited conditions.
func (s *syncer) normalize(key string, hpa *autoscalingv2.HorizontalPodAutoscaler, now time.Time, current, minReplicas, proposal int32) int32 {
	b := resources.HPABehaviorWithDefaults(hpa.Spec.Behavior.DeepCopy())
	h := s.historyOf(key)
	up, down := windows(b)
	stable := h.stabilize(now, current, proposal, up, down)
	switch {
	case stable == proposal:
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ReadyForNewScale", "recommended size matches current size")
	case proposal > current:
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation")
	default:
		setCondition(hpa, autoscalingv2.AbleToScale, corev1.ConditionTrue, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation")
	}
	desired, lim := h.limitRate(now, b, current, stable, minReplicas, hpa.Spec.MaxReplicas)
	if lim.reason == "" {
		setCondition(hpa, autoscalingv2.ScalingLimited, corev1.ConditionFalse, "DesiredWithinRange", "the desired count is within the acceptable range")
	} else {
		setCondition(hpa, autoscalingv2.ScalingLimited, corev1.ConditionTrue, lim.reason, "%s", lim.message)
	}
	return desired
}

func (s *syncer) historyOf(key string) *history {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.histories[key]
	if h == nil {
		h = &history{}
		s.histories[key] = h
	}
	return h
}

// targetPods lists the pods the target's scale selects.
func (s *syncer) targetPods(ns, selector string) ([]*corev1.Pod, labels.Selector, error) {
	sel, err := labels.Parse(selector)
	if err != nil || selector == "" {
		return nil, nil, fmt.Errorf("the target's scale has no valid selector %q", selector)
	}
	pods, err := s.pods.Pods(ns).List(sel)
	return pods, sel, err
}

// setCondition sets (or adds) a condition, keeping its transition time when the
// status did not change.
func setCondition(hpa *autoscalingv2.HorizontalPodAutoscaler, t autoscalingv2.HorizontalPodAutoscalerConditionType,
	status corev1.ConditionStatus, reason, format string, args ...any) {
	c := autoscalingv2.HorizontalPodAutoscalerCondition{Type: t, Status: status, Reason: reason, Message: fmt.Sprintf(format, args...)}
	for i, old := range hpa.Status.Conditions {
		if old.Type != t {
			continue
		}
		c.LastTransitionTime = old.LastTransitionTime
		if old.Status != status {
			c.LastTransitionTime = metav1.Now()
		}
		hpa.Status.Conditions[i] = c
		return
	}
	c.LastTransitionTime = metav1.Now()
	hpa.Status.Conditions = append(hpa.Status.Conditions, c)
}
