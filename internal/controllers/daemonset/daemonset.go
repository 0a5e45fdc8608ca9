// Package daemonset runs one pod of each DaemonSet on every eligible node. Pods are
// pinned to their node by node affinity and placed by the scheduler; template changes
// roll out node by node through ControllerRevisions.
package daemonset

import (
	"context"
	"errors"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/workloads"
)

var kindDaemonSet = appsv1.SchemeGroupVersion.WithKind("DaemonSet")

type dsController struct {
	client kubernetes.Interface
	dss    appslisters.DaemonSetLister
	pods   corelisters.PodLister
	nodes  corelisters.NodeLister
	revs   appslisters.ControllerRevisionLister
	exp    *workloads.Expectations
	rec    record.EventRecorder
	ctrl   *controller.Controller
	now    func() time.Time
}

// New returns the DaemonSet controller.
func New(c *controller.Context) *controller.Controller {
	di := c.Informers.Apps().V1().DaemonSets()
	pi := c.Informers.Core().V1().Pods()
	ni := c.Informers.Core().V1().Nodes()
	ri := c.Informers.Apps().V1().ControllerRevisions()
	dc := &dsController{client: c.Client, dss: di.Lister(), pods: pi.Lister(), nodes: ni.Lister(),
		revs: ri.Lister(), exp: workloads.NewExpectations(), rec: c.Recorder("daemonset-controller"), now: time.Now}
	dc.ctrl = controller.New("daemonset", dc.sync, 2)
	dc.ctrl.Watch(di.Informer(), dc.ctrl.Handler())
	dc.ctrl.Watch(pi.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { dc.podEvent(obj, true) },
		UpdateFunc: func(old, cur any) {
			if old.(*corev1.Pod).ResourceVersion != cur.(*corev1.Pod).ResourceVersion {
				dc.podEvent(cur, false)
			}
		},
		DeleteFunc: func(obj any) { dc.podEvent(obj, false) },
	})
	// Any node change may change where daemons belong.
	all := func(any) { dc.enqueueAll() }
	dc.ctrl.Watch(ni.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: all, DeleteFunc: all,
		UpdateFunc: func(old, cur any) {
			if nodeChanged(old.(*corev1.Node), cur.(*corev1.Node)) {
				dc.enqueueAll()
			}
		}})
	dc.ctrl.Watch(ri.Informer(), nil)
	return dc.ctrl
}

func nodeChanged(a, b *corev1.Node) bool {
	return !labels.Equals(a.Labels, b.Labels) || len(a.Spec.Taints) != len(b.Spec.Taints) ||
		a.Spec.Unschedulable != b.Spec.Unschedulable || (len(a.Spec.Taints) > 0 && a.ResourceVersion != b.ResourceVersion)
}

func (dc *dsController) enqueueAll() {
	list, _ := dc.dss.List(labels.Everything())
	for _, ds := range list {
		dc.ctrl.Enqueue(ds)
	}
}

func (dc *dsController) podEvent(obj any, added bool) {
	pod, ok := controller.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	key, ok := controller.ControllerKey(pod, kindDaemonSet.Kind)
	if !ok {
		return
	}
	if added {
		dc.exp.CreationObserved(key)
	}
	dc.ctrl.Queue.Add(key)
}

func (dc *dsController) sync(ctx context.Context, key string) error {
	cached, found, err := controller.Get(key, dc.dss.DaemonSets)
	if !found {
		if err == nil {
			dc.exp.Forget(key)
		}
		return err
	}
	ds := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(ds.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil
	}
	nodes, err := dc.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	// Read before the pods: a creation seen after listing them must still hold us back.
	satisfied := dc.exp.Satisfied(key)
	byNode, err := dc.podsByNode(ctx, ds, sel)
	if err != nil {
		return err
	}
	revs, hash, err := dc.revisions(ctx, ds)
	if err != nil {
		return err
	}
	var manageErr error
	if ds.DeletionTimestamp == nil && satisfied {
		manageErr = dc.manage(ctx, key, ds, nodes, byNode, hash)
	}
	if err := dc.writeStatus(ctx, ds, nodes, byNode, hash); err != nil {
		return errors.Join(manageErr, err)
	}
	if manageErr != nil {
		return manageErr
	}
	if ds.Spec.MinReadySeconds > 0 && ds.Status.NumberAvailable < ds.Status.NumberReady {
		// Pods turn available with time alone; no event will say so.
		dc.ctrl.Queue.AddAfter(key, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	return dc.truncateHistory(ctx, ds, revs, byNode, hash)
}

// podsByNode claims ds's pods and groups them by the node they are on or pinned to.
func (dc *dsController) podsByNode(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) (map[string][]*corev1.Pod, error) {
	all, err := dc.pods.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	c := workloads.PodClaimer(dc.client, ds, kindDaemonSet, sel, dc.client.AppsV1().DaemonSets(ds.Namespace).Get)
	pods, err := workloads.Claim(ctx, c, all)
	out := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if node, nerr := targetNode(p); nerr == nil {
			out[node] = append(out[node], p)
		}
	}
	return out, err
}

func (dc *dsController) revisions(ctx context.Context, ds *appsv1.DaemonSet) ([]*appsv1.ControllerRevision, string, error) {
	all, err := dc.revs.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, "", err
	}
	var revs []*appsv1.ControllerRevision
	for _, r := range all {
		if ref := metav1.GetControllerOf(r); ref != nil && ref.UID == ds.UID {
			revs = append(revs, r)
		}
	}
	workloads.SortRevisions(revs)
	data, err := workloads.TemplatePatch(&ds.Spec.Template)
	if err != nil {
		return nil, "", err
	}
	want := workloads.NewRevision(ds, kindDaemonSet, ds.Spec.Template.Labels, data,
		workloads.NextRevisionNumber(revs), ds.Status.CollisionCount)
	cur, err := workloads.EnsureRevision(ctx, dc.client, revs, want)
	if errors.Is(err, workloads.ErrHashCollision) {
		n := int32(1)
		if ds.Status.CollisionCount != nil {
			n = *ds.Status.CollisionCount + 1
		}
		ds.Status.CollisionCount = &n
		_, uerr := dc.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, ds, metav1.UpdateOptions{})
		return nil, "", errors.Join(err, uerr)
	}
	if err != nil {
		return nil, "", err
	}
	return revs, cur.Labels[workloads.RevisionHashLabel], nil
}

func (dc *dsController) truncateHistory(ctx context.Context, ds *appsv1.DaemonSet, revs []*appsv1.ControllerRevision,
	byNode map[string][]*corev1.Pod, hash string) error {
	liveHashes := map[string]bool{hash: true}
	for _, pods := range byNode {
		for _, p := range pods {
			liveHashes[p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]] = true
		}
	}
	live := map[string]bool{}
	for _, r := range revs {
		if liveHashes[r.Labels[workloads.RevisionHashLabel]] {
			live[r.Name] = true
		}
	}
	limit := int32(10)
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = *ds.Spec.RevisionHistoryLimit
	}
	return workloads.TruncateHistory(ctx, dc.client, revs, live, limit)
}
