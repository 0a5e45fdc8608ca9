// Package statefulset runs StatefulSets: pods with stable names <set>-<ordinal>,
// stable storage from volumeClaimTemplates, created and deleted in order, and rolled
// through ControllerRevisions from the highest ordinal down to the partition.
package statefulset

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/workloads"
)

type ssController struct {
	client kubernetes.Interface
	sets   appslisters.StatefulSetLister
	pods   corelisters.PodLister
	claims corelisters.PersistentVolumeClaimLister
	revs   appslisters.ControllerRevisionLister
	rec    record.EventRecorder
	ctrl   *controller.Controller
	now    func() time.Time
}

// New returns the StatefulSet controller.
func New(c *controller.Context) *controller.Controller {
	si := c.Informers.Apps().V1().StatefulSets()
	pi := c.Informers.Core().V1().Pods()
	ci := c.Informers.Core().V1().PersistentVolumeClaims()
	ri := c.Informers.Apps().V1().ControllerRevisions()
	sc := &ssController{client: c.Client, sets: si.Lister(), pods: pi.Lister(), claims: ci.Lister(),
		revs: ri.Lister(), rec: c.Recorder("statefulset-controller"), now: time.Now}
	sc.ctrl = controller.New("statefulset", sc.sync, 5)
	sc.ctrl.Watch(si.Informer(), sc.ctrl.Handler())
	sc.ctrl.Watch(pi.Informer(), controller.EachOldAndNew(sc.podChanged))
	sc.ctrl.Watch(ci.Informer(), nil)
	sc.ctrl.Watch(ri.Informer(), nil)
	return sc.ctrl
}

func (sc *ssController) podChanged(obj any) {
	pod, ok := controller.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	controller.EnqueueOwnerOrAdopters(sc.ctrl, pod, kindStatefulSet.Kind,
		func(ns string) ([]*appsv1.StatefulSet, error) {
			return sc.sets.StatefulSets(ns).List(labels.Everything())
		},
		func(s *appsv1.StatefulSet) *metav1.LabelSelector { return s.Spec.Selector })
}

func (sc *ssController) sync(ctx context.Context, key string) error {
	cached, found, err := controller.Get(key, sc.sets.StatefulSets)
	if !found {
		return err
	}
	set := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil
	}
	pods, err := sc.claimPods(ctx, set, sel)
	if err != nil {
		return err
	}
	revs, err := sc.ownedRevisions(set)
	if err != nil {
		return err
	}
	current, update, err := sc.revisions(ctx, set, revs)
	if err != nil {
		return err
	}
	var updateErr error
	if set.DeletionTimestamp == nil {
		updateErr = sc.update(ctx, set, current, update, pods)
	}
	st := computeStatus(set, current, update, pods, sc.now())
	if !equality.Semantic.DeepEqual(st, set.Status) {
		set.Status = st
		if _, err := sc.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, set, metav1.UpdateOptions{}); err != nil {
			return errors.Join(updateErr, err)
		}
	}
	if updateErr != nil {
		return updateErr
	}
	if set.Spec.MinReadySeconds > 0 && st.AvailableReplicas != st.ReadyReplicas {
		sc.ctrl.Queue.AddAfter(key, time.Duration(set.Spec.MinReadySeconds)*time.Second)
	}
	return sc.truncateHistory(ctx, set, revs, pods, current, update)
}

func (sc *ssController) claimPods(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector) ([]*corev1.Pod, error) {
	all, err := sc.pods.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	// Only pods whose names fit the set may be adopted: the ordinal is the identity.
	var fit []*corev1.Pod
	for _, p := range all {
		if ordinalOf(set, p.Name) >= 0 {
			fit = append(fit, p)
		}
	}
	c := workloads.PodClaimer(sc.client, set, kindStatefulSet, sel, sc.client.AppsV1().StatefulSets(set.Namespace).Get)
	return workloads.Claim(ctx, c, fit)
}

func (sc *ssController) ownedRevisions(set *appsv1.StatefulSet) ([]*appsv1.ControllerRevision, error) {
	all, err := sc.revs.ControllerRevisions(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*appsv1.ControllerRevision
	for _, r := range all {
		if ref := metav1.GetControllerOf(r); ref != nil && ref.UID == set.UID {
			out = append(out, r)
		}
	}
	workloads.SortRevisions(out)
	return out, nil
}

// revisions returns the set's current revision (what its pods ran when the last
// rollout finished) and update revision (its template now), creating the latter.
func (sc *ssController) revisions(ctx context.Context, set *appsv1.StatefulSet, revs []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, err error) {
	data, err := workloads.TemplatePatch(&set.Spec.Template)
	if err != nil {
		return nil, nil, err
	}
	want := workloads.NewRevision(set, kindStatefulSet, set.Spec.Template.Labels, data,
		workloads.NextRevisionNumber(revs), set.Status.CollisionCount)
	update, err = workloads.EnsureRevision(ctx, sc.client, revs, want)
	if errors.Is(err, workloads.ErrHashCollision) {
		n := int32(1)
		if set.Status.CollisionCount != nil {
			n = *set.Status.CollisionCount + 1
		}
		set.Status.CollisionCount = &n
		_, uerr := sc.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, set, metav1.UpdateOptions{})
		return nil, nil, errors.Join(err, uerr)
	}
	if err != nil {
		return nil, nil, err
	}
	current = update
	for _, r := range revs {
		if r.Name == set.Status.CurrentRevision {
			current = r
		}
	}
	return current, update, nil
}

// truncateHistory keeps revisionHistoryLimit revisions besides those in use.
func (sc *ssController) truncateHistory(ctx context.Context, set *appsv1.StatefulSet, revs []*appsv1.ControllerRevision,
	pods []*corev1.Pod, current, update *appsv1.ControllerRevision) error {
	live := map[string]bool{current.Name: true, update.Name: true}
	for _, p := range pods {
		live[p.Labels[revisionLabel]] = true
	}
	limit := int32(10)
	if set.Spec.RevisionHistoryLimit != nil {
		limit = *set.Spec.RevisionHistoryLimit
	}
	return workloads.TruncateHistory(ctx, sc.client, revs, live, limit)
}
