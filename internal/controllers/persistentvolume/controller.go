// Package persistentvolume is the PV controller: it binds claims to volumes (by the
// rules in internal/volumebinding), waits for a claim's first consumer when its
// class says so, keeps volume and claim phases true (Available, Bound, Released,
// Failed, Lost), applies the Retain and Delete reclaim policies, and holds the
// pvc-protection and pv-protection finalizers while a claim is in use or a volume
// bound. Making volumes is a provisioner's job (the local-path provisioner runs in
// each node agent); this controller only tells the claim whom it is waiting for.
package persistentvolume

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
	"skiff/internal/volumebinding"
)

var everything = labels.Everything()

// Controller runs two queues: claims (binding, claim protection) and volumes
// (phases, reclaim, volume protection). Each wakes the other where their state meets.
type Controller struct {
	client  kubernetes.Interface
	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
	classes storagelisters.StorageClassLister
	pods    corelisters.PodLister
	nodes   corelisters.NodeLister
	rec     record.EventRecorder

	claimQueue  *controller.Controller
	volumeQueue *controller.Controller
}

// New returns the PV controller.
func New(c *controller.Context) *Controller {
	core := c.Informers.Core().V1()
	ci, vi, pi, ni := core.PersistentVolumeClaims(), core.PersistentVolumes(), core.Pods(), core.Nodes()
	si := c.Informers.Storage().V1().StorageClasses()
	pc := &Controller{client: c.Client, claims: ci.Lister(), volumes: vi.Lister(), classes: si.Lister(),
		pods: pi.Lister(), nodes: ni.Lister(), rec: c.Recorder("persistentvolume-controller")}
	pc.claimQueue = controller.New("persistentvolume-binder", pc.syncClaim, 4)
	pc.volumeQueue = controller.New("persistentvolume-reclaim", pc.syncVolume, 2)
	pc.claimQueue.Watch(ci.Informer(), controller.Each(pc.claimChanged))
	pc.claimQueue.Watch(vi.Informer(), controller.Each(pc.volumeChanged))
	pc.claimQueue.Watch(pi.Informer(), controller.Each(pc.podChanged))
	pc.claimQueue.Watch(si.Informer(), nil)
	pc.claimQueue.Watch(ni.Informer(), nil)
	pc.volumeQueue.HasSynced = pc.claimQueue.HasSynced
	return pc
}

// Run works both queues until ctx ends.
func (pc *Controller) Run(ctx context.Context) {
	go pc.volumeQueue.Run(ctx)
	pc.claimQueue.Run(ctx)
}

// claimChanged syncs the claim and, when it names a volume, the volume: a claim
// that went away releases its volume.
func (pc *Controller) claimChanged(obj any) {
	pvc, ok := controller.Unwrap[*corev1.PersistentVolumeClaim](obj)
	if !ok {
		return
	}
	pc.claimQueue.Enqueue(pvc)
	if pvc.Spec.VolumeName != "" {
		pc.volumeQueue.Queue.Add(pvc.Spec.VolumeName)
	}
}

// volumeChanged syncs the volume and the claim it names; a new volume may also be
// the one a pending claim waits for, so pending claims are retried.
func (pc *Controller) volumeChanged(obj any) {
	pv, ok := controller.Unwrap[*corev1.PersistentVolume](obj)
	if !ok {
		return
	}
	pc.volumeQueue.Enqueue(pv)
	if ref := pv.Spec.ClaimRef; ref != nil {
		pc.claimQueue.Queue.Add(ref.Namespace + "/" + ref.Name)
		return
	}
	pc.retryPending()
}

// retryPending requeues every unbound claim: an available volume appeared. A short
// delay folds a burst of new volumes into one pass per claim.
func (pc *Controller) retryPending() {
	pending, err := pc.claims.List(everything)
	if err != nil {
		return
	}
	for _, c := range pending {
		if c.Spec.VolumeName == "" {
			pc.claimQueue.EnqueueAfter(c, 100*time.Millisecond)
		}
	}
}

// podChanged wakes claims being deleted that the pod used: a finished or deleted
// pod may be what their finalizer waited for.
func (pc *Controller) podChanged(obj any) {
	pod, ok := controller.Unwrap[*corev1.Pod](obj)
	if !ok {
		return
	}
	for _, name := range volumebinding.PodClaims(pod) {
		if c, err := pc.claims.PersistentVolumeClaims(pod.Namespace).Get(name); err == nil && c.DeletionTimestamp != nil {
			pc.claimQueue.Enqueue(c)
		}
	}
}
