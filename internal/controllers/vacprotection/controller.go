// Package vacprotection is the VolumeAttributesClass protection controller: a
// class keeps the kubernetes.io/vac-protection finalizer (the API server puts it on
// at create; this controller puts it back if someone removed it), and a deleted
// class goes only once no claim and no volume names it, since a claim's volume
// could otherwise not be modified to, or described by, its class.
package vacprotection

import (
	"context"
	"slices"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
	"skiff/internal/resources"
)

// Controller holds and releases the protection finalizer of classes.
type Controller struct {
	client  kubernetes.Interface
	classes storagelisters.VolumeAttributesClassLister
	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
	queue   *controller.Controller
}

// New returns the vac-protection controller.
func New(c *controller.Context) *Controller {
	vi := c.Informers.Storage().V1().VolumeAttributesClasses()
	ci, pi := c.Informers.Core().V1().PersistentVolumeClaims(), c.Informers.Core().V1().PersistentVolumes()
	pc := &Controller{client: c.Client, classes: vi.Lister(), claims: ci.Lister(), volumes: pi.Lister()}
	pc.queue = controller.New("vac-protection", pc.sync, 1)
	pc.queue.Watch(vi.Informer(), pc.queue.Handler())
	// A claim or volume that stops naming a class (changed or deleted) may be what
	// a deleted class waits for.
	pc.queue.Watch(ci.Informer(), controller.EachOldAndNew(func(obj any) {
		if pvc, ok := controller.Unwrap[*corev1.PersistentVolumeClaim](obj); ok {
			pc.wake(ClaimClasses(pvc)...)
		}
	}))
	pc.queue.Watch(pi.Informer(), controller.EachOldAndNew(func(obj any) {
		if pv, ok := controller.Unwrap[*corev1.PersistentVolume](obj); ok {
			pc.wake(ptr.Deref(pv.Spec.VolumeAttributesClassName, ""))
		}
	}))
	return pc
}

// Run works the queue until ctx ends.
func (pc *Controller) Run(ctx context.Context) { pc.queue.Run(ctx) }

// wake queues the named classes that are being deleted: only they wait on users.
func (pc *Controller) wake(names ...string) {
	for _, name := range names {
		if vac, err := pc.classes.Get(name); err == nil && vac.DeletionTimestamp != nil {
			pc.queue.Queue.Add(name)
		}
	}
}

// ClaimClasses are the classes a claim names: the one it asks for, the one its
// volume has, and the one a modification is under way to.
func ClaimClasses(pvc *corev1.PersistentVolumeClaim) []string {
	var names []string
	add := func(n string) {
		if n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	add(ptr.Deref(pvc.Spec.VolumeAttributesClassName, ""))
	add(ptr.Deref(pvc.Status.CurrentVolumeAttributesClassName, ""))
	if s := pvc.Status.ModifyVolumeStatus; s != nil {
		add(s.TargetVolumeAttributesClassName)
	}
	return names
}

func (pc *Controller) sync(ctx context.Context, name string) error {
	vac, err := pc.classes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	protected := slices.Contains(vac.Finalizers, resources.VACProtectionFinalizer)
	switch {
	case vac.DeletionTimestamp == nil && !protected:
		next := vac.DeepCopy()
		next.Finalizers = append(next.Finalizers, resources.VACProtectionFinalizer)
		return pc.update(ctx, next)
	case vac.DeletionTimestamp != nil && protected:
		used, err := pc.inUse(name)
		if err != nil || used {
			return err
		}
		next := vac.DeepCopy()
		next.Finalizers = slices.DeleteFunc(next.Finalizers, func(f string) bool { return f == resources.VACProtectionFinalizer })
		return pc.update(ctx, next)
	}
	return nil
}

func (pc *Controller) update(ctx context.Context, vac *storagev1.VolumeAttributesClass) error {
	_, err := pc.client.StorageV1().VolumeAttributesClasses().Update(ctx, vac, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// inUse says whether a claim or a volume names the class.
func (pc *Controller) inUse(name string) (bool, error) {
	pvs, err := pc.volumes.List(labels.Everything())
	if err != nil {
		return false, err
	}
	for _, pv := range pvs {
		if ptr.Deref(pv.Spec.VolumeAttributesClassName, "") == name {
			return true, nil
		}
	}
	pvcs, err := pc.claims.List(labels.Everything())
	if err != nil {
		return false, err
	}
	for _, pvc := range pvcs {
		if slices.Contains(ClaimClasses(pvc), name) {
			return true, nil
		}
	}
	return false, nil
}
