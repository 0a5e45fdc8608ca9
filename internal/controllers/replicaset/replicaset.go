// Package replicaset keeps ReplicaSets and ReplicationControllers at their replica
// count. Both kinds share one sync: a ReplicationController is read as a ReplicaSet
// whose selector is an equality-based matchLabels.
package replicaset

import (
	"context"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/workloads"
)

// burstReplicas caps the pods created or deleted in one sync, so one huge scale does
// not starve other owners of the API server.
const burstReplicas = 500

// kind adapts ReplicaSet or ReplicationController to the shared sync.
type kind struct {
	gvk       schema.GroupVersionKind
	component string
	// get reads key's object from the cache as a ReplicaSet view, with the original.
	get func(ns, name string) (*appsv1.ReplicaSet, runtime.Object, error)
	// getLive reads the object from the API server.
	getLive func(ctx context.Context, ns, name string) (metav1.Object, error)
	// list returns the views of a namespace's objects, for orphan adoption.
	list func(ns string) ([]*appsv1.ReplicaSet, error)
	// updateStatus writes status to orig.
	updateStatus func(ctx context.Context, orig runtime.Object, status appsv1.ReplicaSetStatus) error
}

type rsController struct {
	kind   kind
	client kubernetes.Interface
	pods   corelisters.PodLister
	exp    *workloads.Expectations
	rec    record.EventRecorder
	ctrl   *controller.Controller
	now    func() time.Time
}

// New returns the ReplicaSet controller.
func New(c *controller.Context) *controller.Controller {
	inf := c.Informers.Apps().V1().ReplicaSets()
	lister := inf.Lister()
	k := kind{
		gvk:       appsv1.SchemeGroupVersion.WithKind("ReplicaSet"),
		component: "replicaset-controller",
		get: func(ns, name string) (*appsv1.ReplicaSet, runtime.Object, error) {
			rs, err := lister.ReplicaSets(ns).Get(name)
			return rs, rs, err
		},
		getLive: func(ctx context.Context, ns, name string) (metav1.Object, error) {
			return c.Client.AppsV1().ReplicaSets(ns).Get(ctx, name, metav1.GetOptions{})
		},
		list: func(ns string) ([]*appsv1.ReplicaSet, error) {
			return lister.ReplicaSets(ns).List(labels.Everything())
		},
		updateStatus: func(ctx context.Context, orig runtime.Object, st appsv1.ReplicaSetStatus) error {
			rs := orig.(*appsv1.ReplicaSet).DeepCopy()
			rs.Status = st
			_, err := c.Client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, rs, metav1.UpdateOptions{})
			return err
		},
	}
	return newController(c, k, inf.Informer())
}

func newController(c *controller.Context, k kind, owners cache.SharedIndexInformer) *controller.Controller {
	rc := &rsController{kind: k, client: c.Client, exp: workloads.NewExpectations(),
		rec: c.Recorder(k.component), now: time.Now}
	podInf := c.Informers.Core().V1().Pods()
	rc.pods = podInf.Lister()
	rc.ctrl = controller.New(k.component, rc.sync, 5)
	rc.ctrl.Watch(owners, rc.ctrl.Handler())
	rc.ctrl.Watch(podInf.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    rc.podAdded,
		UpdateFunc: rc.podUpdated,
		DeleteFunc: rc.podDeleted,
	})
	return rc.ctrl
}

// owner returns the key of pod's controller if it is one of ours.
func (rc *rsController) owner(pod *corev1.Pod) (string, bool) {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != rc.kind.gvk.Kind {
		return "", false
	}
	rs, _, err := rc.kind.get(pod.Namespace, ref.Name)
	if err != nil || rs.UID != ref.UID {
		return "", false
	}
	return pod.Namespace + "/" + ref.Name, true
}

// enqueueSelecting wakes every owner that could adopt the orphan pod.
func (rc *rsController) enqueueSelecting(pod *corev1.Pod) {
	list, _ := rc.kind.list(pod.Namespace)
	controller.EnqueueSelecting(rc.ctrl, list, func(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector }, pod.Labels)
}

func (rc *rsController) podAdded(obj any) {
	pod := obj.(*corev1.Pod)
	if pod.DeletionTimestamp != nil {
		rc.podDeleted(pod) // seen first on restart while terminating
		return
	}
	if key, ok := rc.owner(pod); ok {
		rc.exp.CreationObserved(key)
		rc.ctrl.Queue.Add(key)
		return
	}
	if metav1.GetControllerOf(pod) == nil {
		rc.enqueueSelecting(pod)
	}
}

func (rc *rsController) podUpdated(oldObj, newObj any) {
	old, pod := oldObj.(*corev1.Pod), newObj.(*corev1.Pod)
	if old.ResourceVersion == pod.ResourceVersion {
		return // resync
	}
	if pod.DeletionTimestamp != nil && old.DeletionTimestamp == nil {
		// A graceful delete: the pod no longer counts, so act now rather than when
		// the kubelet finishes.
		if key, ok := rc.owner(pod); ok {
			rc.exp.DeletionObserved(key, pod.UID)
		}
	}
	if key, ok := rc.owner(old); ok {
		rc.ctrl.Queue.Add(key)
	}
	if key, ok := rc.owner(pod); ok {
		rc.ctrl.Queue.Add(key)
	} else if metav1.GetControllerOf(pod) == nil {
		rc.enqueueSelecting(pod)
	}
}

func (rc *rsController) podDeleted(obj any) {
	pod, ok := controller.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	if key, ok := rc.owner(pod); ok {
		rc.exp.DeletionObserved(key, pod.UID)
		rc.ctrl.Queue.Add(key)
	}
}
