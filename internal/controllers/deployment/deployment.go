// Package deployment rolls Deployments out through ReplicaSets: one new ReplicaSet for
// the current template and old ones scaled down as the new one becomes available,
// with revisions for rollback, pause, proportional scaling and progress deadlines.
package deployment

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/workloads"
)

var (
	kindDeployment = appsv1.SchemeGroupVersion.WithKind("Deployment")
	kindReplicaSet = appsv1.SchemeGroupVersion.WithKind("ReplicaSet")
)

type dController struct {
	client      kubernetes.Interface
	deployments appslisters.DeploymentLister
	rss         appslisters.ReplicaSetLister
	pods        corelisters.PodLister
	rec         record.EventRecorder
	ctrl        *controller.Controller
	now         func() time.Time
}

// New returns the Deployment controller.
func New(c *controller.Context) *controller.Controller {
	di := c.Informers.Apps().V1().Deployments()
	ri := c.Informers.Apps().V1().ReplicaSets()
	pi := c.Informers.Core().V1().Pods()
	dc := &dController{client: c.Client, deployments: di.Lister(), rss: ri.Lister(), pods: pi.Lister(),
		rec: c.Recorder("deployment-controller"), now: time.Now}
	dc.ctrl = controller.New("deployment", dc.sync, 5)
	dc.ctrl.Watch(di.Informer(), dc.ctrl.Handler())
	dc.ctrl.Watch(ri.Informer(), controller.EachOldAndNew(dc.rsChanged))
	// Recreate waits for the old pods to be gone, which only pod events tell.
	dc.ctrl.Watch(pi.Informer(), cache.ResourceEventHandlerFuncs{DeleteFunc: dc.podDeleted})
	return dc.ctrl
}

// rsChanged wakes the Deployment that controls rs, or every one that could adopt it.
func (dc *dController) rsChanged(obj any) {
	rs, ok := controller.Unwrap[*appsv1.ReplicaSet](obj)
	if !ok {
		return
	}
	controller.EnqueueOwnerOrAdopters(dc.ctrl, rs, kindDeployment.Kind,
		func(ns string) ([]*appsv1.Deployment, error) {
			return dc.deployments.Deployments(ns).List(labels.Everything())
		},
		func(d *appsv1.Deployment) *metav1.LabelSelector { return d.Spec.Selector })
}

func (dc *dController) podDeleted(obj any) {
	pod, ok := controller.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != kindReplicaSet.Kind {
		return
	}
	rs, err := dc.rss.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	if key, ok := controller.ControllerKey(rs, kindDeployment.Kind); ok {
		dc.ctrl.Queue.Add(key)
	}
}

func (dc *dController) sync(ctx context.Context, key string) error {
	cached, found, err := controller.Get(key, dc.deployments.Deployments)
	if !found {
		return err
	}
	d := cached.DeepCopy()
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || sel.Empty() {
		dc.rec.Eventf(d, corev1.EventTypeWarning, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.")
		return nil
	}
	rsList, err := dc.claimReplicaSets(ctx, d, sel)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		return dc.syncStatusOnly(ctx, d, rsList)
	}
	if err := dc.checkPaused(ctx, d); err != nil {
		return err
	}
	if d.Spec.Paused {
		return dc.syncScale(ctx, d, rsList)
	}
	if dc.isScalingEvent(d, rsList) {
		return dc.syncScale(ctx, d, rsList)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return dc.rolloutRecreate(ctx, d, rsList, sel)
	}
	return dc.rolloutRolling(ctx, d, rsList)
}

func (dc *dController) claimReplicaSets(ctx context.Context, d *appsv1.Deployment, sel labels.Selector) ([]*appsv1.ReplicaSet, error) {
	all, err := dc.rss.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	c := &workloads.Claimer{
		Owner: d, OwnerGVK: kindDeployment, Selector: sel,
		Patch: func(ctx context.Context, name string, patch []byte) error {
			_, err := dc.client.AppsV1().ReplicaSets(d.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: workloads.RecheckOwner(d, func(ctx context.Context) (metav1.Object, error) {
			return dc.client.AppsV1().Deployments(d.Namespace).Get(ctx, d.Name, metav1.GetOptions{})
		}),
	}
	return workloads.Claim(ctx, c, all)
}

// podsByReplicaSet groups the pods d selects by the uid of their ReplicaSet.
func (dc *dController) podsByReplicaSet(d *appsv1.Deployment, sel labels.Selector) (map[types.UID][]*corev1.Pod, error) {
	pods, err := dc.pods.Pods(d.Namespace).List(sel)
	if err != nil {
		return nil, err
	}
	out := map[types.UID][]*corev1.Pod{}
	for _, p := range pods {
		if ref := metav1.GetControllerOf(p); ref != nil {
			out[ref.UID] = append(out[ref.UID], p)
		}
	}
	return out, nil
}
