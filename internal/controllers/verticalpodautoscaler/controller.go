// Package verticalpodautoscaler runs the VPA: every interval the recommender feeds
// the pods' CPU and memory usage (from metrics.k8s.io, what `kubectl top` shows) into
// per-container decaying histograms, publishes target/lowerBound/upperBound/
// uncappedTarget in each VPA's status and keeps checkpoints; the updater then brings
// pods whose requests fall outside the recommended range to the target, in place
// (InPlaceOrRecreate) or by eviction (Auto, Recreate). New pods get the target from
// the API server's admission step (internal/vpa).
package verticalpodautoscaler

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	metricsv1beta1 "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"

	"skiff/internal/controllers/controller"
	"skiff/internal/vpa"
)

// DefaultInterval is how often the recommender runs (upstream's --recommender-interval).
const DefaultInterval = time.Minute

const componentName = "vpa-recommender"

// Clients are what the VPA reaches beyond the shared informers.
type Clients struct {
	Dynamic dynamic.Interface
	Scales  scale.ScalesGetter
	Mapper  meta.ResettableRESTMapper
	Metrics metricsv1beta1.PodMetricsesGetter
}

// Controller is the recommender and updater.
type Controller struct {
	Clients
	client   kubernetes.Interface
	pods     corelisters.PodLister
	synced   cache.InformerSynced
	recorder record.EventRecorder
	interval time.Duration
	now      func() time.Time
	// history is each VPA's per-container usage, by "ns/vpa/container".
	history map[string]*containerHistory
	loaded  map[string]bool // VPAs whose checkpoints were read, by "ns/vpa"
}

type containerHistory struct {
	agg *vpa.Aggregate
	// seen is the newest metrics window taken from each pod, so a sample the
	// metrics API still serves is not counted twice.
	seen map[string]time.Time
}

// New builds the controller; interval 0 means DefaultInterval.
func New(c *controller.Context, clients Clients, interval time.Duration) *Controller {
	if interval <= 0 {
		interval = DefaultInterval
	}
	pods := c.Informers.Core().V1().Pods()
	return &Controller{Clients: clients, client: c.Client, pods: pods.Lister(), synced: pods.Informer().HasSynced,
		recorder: c.Recorder(componentName), interval: interval, now: time.Now,
		history: map[string]*containerHistory{}, loaded: map[string]bool{}}
}

// Run recommends and updates every interval.
func (c *Controller) Run(ctx context.Context) {
	if !cache.WaitForNamedCacheSync(componentName, ctx.Done(), c.synced) {
		return
	}
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		if err := c.cycle(ctx); err != nil && ctx.Err() == nil {
			slog.Debug("vpa: cycle", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (c *Controller) cycle(ctx context.Context) error {
	list, err := c.Dynamic.Resource(vpa.Resource).Namespace("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return err // not served yet
	}
	live := map[string]bool{}
	defer c.forgetExcept(live)
	for i := range list.Items {
		v, err := vpa.FromUnstructured[vpa.VerticalPodAutoscaler](&list.Items[i])
		if err != nil {
			continue
		}
		live[v.Namespace+"/"+v.Name] = true
		if err := c.reconcile(ctx, v); err != nil && ctx.Err() == nil {
			slog.Warn("vpa: reconcile", "vpa", v.Namespace+"/"+v.Name, "err", err)
		}
	}
	return nil
}

// reconcile runs one VPA's recommendation and update.
func (c *Controller) reconcile(ctx context.Context, v *vpa.VerticalPodAutoscaler) error {
	old, _ := json.Marshal(v.Status)
	pods, err := c.targetPods(ctx, v)
	if err != nil {
		setCondition(&v.Status, vpa.ConfigUnsupported, corev1.ConditionTrue, "FailedGetTarget", err.Error(), c.now())
		setCondition(&v.Status, vpa.RecommendationProvided, corev1.ConditionFalse, "FailedGetTarget", "", c.now())
		return c.writeStatus(ctx, v, old)
	}
	setCondition(&v.Status, vpa.ConfigUnsupported, corev1.ConditionFalse, "", "", c.now())
	if err := c.loadCheckpoints(ctx, v); err != nil {
		return err
	}
	c.sample(ctx, v, pods)
	v.Status.Recommendation = c.recommend(v, pods)
	if v.Status.Recommendation == nil {
		setCondition(&v.Status, vpa.RecommendationProvided, corev1.ConditionFalse, "NoUsage", "no usage reported yet for the target's pods", c.now())
	} else {
		setCondition(&v.Status, vpa.RecommendationProvided, corev1.ConditionTrue, "", "", c.now())
	}
	if err := c.writeStatus(ctx, v, old); err != nil {
		return err
	}
	if err := c.saveCheckpoints(ctx, v); err != nil {
		return err
	}
	return c.update(ctx, v, pods)
}

// targetPods are the live pods the target's scale subresource selects.
func (c *Controller) targetPods(ctx context.Context, v *vpa.VerticalPodAutoscaler) ([]*corev1.Pod, error) {
	ref := v.Spec.TargetRef
	if ref == nil {
		return nil, fmt.Errorf("spec.targetRef is not set")
	}
	sc, err := c.targetScale(ctx, v.Namespace, ref)
	if err != nil {
		return nil, fmt.Errorf("cannot read targetRef %s/%s: %v", ref.Kind, ref.Name, err)
	}
	sel, err := labels.Parse(sc.Status.Selector)
	if err != nil || sc.Status.Selector == "" {
		return nil, fmt.Errorf("the target %s/%s has no usable selector %q", ref.Kind, ref.Name, sc.Status.Selector)
	}
	all, err := c.pods.Pods(v.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	var out []*corev1.Pod
	for _, p := range all {
		if p.DeletionTimestamp == nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed {
			out = append(out, p)
		}
	}
	return out, nil
}

func (c *Controller) targetScale(ctx context.Context, ns string, ref *autoscalingv1.CrossVersionObjectReference) (*autoscalingv1.Scale, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, err
	}
	mapping, err := c.Mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: ref.Kind}, gv.Version)
	if err != nil {
		c.Mapper.Reset()
		return nil, err
	}
	return c.Scales.Scales(ns).Get(ctx, mapping.Resource.GroupResource(), ref.Name, metav1.GetOptions{})
}

// writeStatus writes v's status when it differs from old (its JSON as read).
func (c *Controller) writeStatus(ctx context.Context, v *vpa.VerticalPodAutoscaler, old []byte) error {
	if now, err := json.Marshal(v.Status); err == nil && bytes.Equal(now, old) {
		return nil
	}
	u, err := vpa.ToUnstructured(v)
	if err != nil {
		return err
	}
	u.SetAPIVersion(vpa.GroupVersion.String())
	u.SetKind("VerticalPodAutoscaler")
	_, err = c.Dynamic.Resource(vpa.Resource).Namespace(v.Namespace).UpdateStatus(ctx, u, metav1.UpdateOptions{})
	return err
}

// setCondition sets a condition, keeping its transition time while its status holds.
func setCondition(st *vpa.Status, t string, status corev1.ConditionStatus, reason, msg string, now time.Time) {
	c := vpa.Condition{Type: t, Status: status, Reason: reason, Message: msg, LastTransitionTime: metav1.NewTime(now.Truncate(time.Second))}
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			if st.Conditions[i].Status == status {
				c.LastTransitionTime = st.Conditions[i].LastTransitionTime
			}
			st.Conditions[i] = c
			return
		}
	}
	st.Conditions = append(st.Conditions, c)
}
