// Package disruption is the PodDisruptionBudget controller: it counts each budget's
// pods, how many are healthy and how many must stay so, and publishes how many may be
// disrupted now. The API server's eviction subresource spends that allowance.
package disruption

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

// DeletionTimeout is how long an eviction the API server granted is counted against
// the budget while the pod has not yet been seen going.
const DeletionTimeout = 2 * time.Minute

type syncer struct {
	c        *controller.Context
	ctl      *controller.Controller
	recorder record.EventRecorder
	pdbs     policylisters.PodDisruptionBudgetLister
	pods     corelisters.PodLister
	scales   scaleListers
	now      func() time.Time
}

// New returns the disruption controller.
func New(c *controller.Context) *controller.Controller {
	s := &syncer{c: c, recorder: c.Recorder("controllermanager"), now: time.Now}
	s.ctl = controller.New("disruption", s.sync, 2)
	pdbInf := c.Informers.Policy().V1().PodDisruptionBudgets()
	podInf := c.Informers.Core().V1().Pods()
	s.pdbs, s.pods = pdbInf.Lister(), podInf.Lister()
	s.scales = newScaleListers(c)
	s.ctl.Watch(pdbInf.Informer(), s.ctl.Handler())
	s.ctl.Watch(podInf.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { s.enqueueForPod(nil, obj) },
		UpdateFunc: s.enqueueForPod,
		DeleteFunc: func(obj any) { s.enqueueForPod(nil, obj) },
	})
	s.ctl.HasSynced = append(s.ctl.HasSynced, s.scales.synced...)
	return s.ctl
}

func (s *syncer) enqueueForPod(old, cur any) {
	pod, ok := controller.Unwrap[*corev1.Pod](cur)
	if !ok {
		return
	}
	sets := []labels.Set{pod.Labels}
	if op, ok := old.(*corev1.Pod); ok {
		sets = append(sets, op.Labels)
	}
	pdbs, _ := s.pdbs.PodDisruptionBudgets(pod.Namespace).List(labels.Everything())
	for _, pdb := range pdbs {
		sel := selector(pdb)
		for _, ls := range sets {
			if sel.Matches(ls) {
				s.ctl.Enqueue(pdb)
				break
			}
		}
	}
}

// selector follows policy/v1: a missing selector selects no pods, an empty one all.
func selector(pdb *policyv1.PodDisruptionBudget) labels.Selector {
	if pdb.Spec.Selector == nil {
		return labels.Nothing()
	}
	sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if err != nil {
		return labels.Nothing()
	}
	return sel
}

func (s *syncer) sync(ctx context.Context, key string) error {
	pdb, found, err := controller.Get(key, s.pdbs.PodDisruptionBudgets)
	if !found {
		return err
	}
	pods, err := s.pods.Pods(pdb.Namespace).List(selector(pdb))
	if err != nil {
		return err
	}
	now := s.now()
	status, recheck, err := s.compute(pdb, pods, now)
	if err != nil {
		s.recorder.Event(pdb, corev1.EventTypeWarning, "CalculateExpectedPodCountFailed", err.Error())
		status = failSafe(pdb, err, now)
	}
	if recheck > 0 {
		s.ctl.EnqueueAfter(pdb, recheck)
	}
	return s.write(ctx, pdb, status)
}

// compute is the budget's status from its pods; recheck is when a recorded eviction
// expires and the count must be made again.
func (s *syncer) compute(pdb *policyv1.PodDisruptionBudget, pods []*corev1.Pod, now time.Time) (policyv1.PodDisruptionBudgetStatus, time.Duration, error) {
	expected, desired, err := s.expectedAndDesired(pdb, pods)
	if err != nil {
		return policyv1.PodDisruptionBudgetStatus{}, 0, err
	}
	disrupted, recheck := pendingEvictions(pdb.Status.DisruptedPods, pods, now)
	healthy := countHealthy(pods, disrupted)
	allowed := healthy - desired
	if expected <= 0 || allowed < 0 {
		allowed = 0
	}
	st := policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: pdb.Generation, DisruptedPods: disrupted,
		DisruptionsAllowed: allowed, CurrentHealthy: healthy, DesiredHealthy: desired, ExpectedPods: expected,
		Conditions: pdb.Status.DeepCopy().Conditions,
	}
	cond := metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionTrue,
		Reason: policyv1.SufficientPodsReason, ObservedGeneration: pdb.Generation}
	if allowed == 0 {
		cond.Status, cond.Reason = metav1.ConditionFalse, policyv1.InsufficientPodsReason
	}
	setCondition(&st.Conditions, cond, now)
	return st, recheck, nil
}

func setCondition(conds *[]metav1.Condition, c metav1.Condition, now time.Time) {
	c.LastTransitionTime = metav1.NewTime(now)
	meta.SetStatusCondition(conds, c)
}

// failSafe allows no disruption while the budget cannot be evaluated.
func failSafe(pdb *policyv1.PodDisruptionBudget, err error, now time.Time) policyv1.PodDisruptionBudgetStatus {
	st := *pdb.Status.DeepCopy()
	st.ObservedGeneration, st.DisruptionsAllowed = pdb.Generation, 0
	setCondition(&st.Conditions, metav1.Condition{Type: policyv1.DisruptionAllowedCondition, Status: metav1.ConditionFalse,
		Reason: policyv1.SyncFailedReason, Message: err.Error(), ObservedGeneration: pdb.Generation}, now)
	return st
}

// pendingEvictions keeps the granted evictions whose pods have not yet been seen
// terminating, until DeletionTimeout.
func pendingEvictions(recorded map[string]metav1.Time, pods []*corev1.Pod, now time.Time) (map[string]metav1.Time, time.Duration) {
	if len(recorded) == 0 {
		return nil, 0
	}
	byName := make(map[string]*corev1.Pod, len(pods))
	for _, p := range pods {
		byName[p.Name] = p
	}
	out := map[string]metav1.Time{}
	var recheck time.Duration
	for name, at := range recorded {
		p := byName[name]
		if p == nil || p.DeletionTimestamp != nil {
			continue
		}
		left := at.Add(DeletionTimeout).Sub(now)
		if left <= 0 {
			continue
		}
		out[name] = at
		if recheck == 0 || left < recheck {
			recheck = left
		}
	}
	if len(out) == 0 {
		return nil, 0
	}
	return out, recheck
}

func countHealthy(pods []*corev1.Pod, disrupted map[string]metav1.Time) int32 {
	var n int32
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		if _, ok := disrupted[p.Name]; ok {
			continue
		}
		if podReady(p) {
			n++
		}
	}
	return n
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (s *syncer) write(ctx context.Context, pdb *policyv1.PodDisruptionBudget, st policyv1.PodDisruptionBudgetStatus) error {
	if apiequality.Semantic.DeepEqual(pdb.Status, st) {
		return nil
	}
	upd := pdb.DeepCopy()
	upd.Status = st
	_, err := s.c.Client.PolicyV1().PodDisruptionBudgets(pdb.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update status of budget %s/%s: %w", pdb.Namespace, pdb.Name, err)
	}
	return nil
}

// listers for the workload kinds whose replica counts give a percentage its base.
type scaleListers struct {
	rs     appslisters.ReplicaSetLister
	deploy appslisters.DeploymentLister
	sts    appslisters.StatefulSetLister
	rc     corelisters.ReplicationControllerLister
	synced []cache.InformerSynced
}

func newScaleListers(c *controller.Context) scaleListers {
	apps := c.Informers.Apps().V1()
	rc := c.Informers.Core().V1().ReplicationControllers()
	return scaleListers{
		rs: apps.ReplicaSets().Lister(), deploy: apps.Deployments().Lister(),
		sts: apps.StatefulSets().Lister(), rc: rc.Lister(),
		synced: []cache.InformerSynced{apps.ReplicaSets().Informer().HasSynced, apps.Deployments().Informer().HasSynced,
			apps.StatefulSets().Informer().HasSynced, rc.Informer().HasSynced},
	}
}
