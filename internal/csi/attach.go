package csi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"

	"skiff/internal/controllers/controller"
)

// AttachmentName is the VolumeAttachment of a volume on a node, named as Kubernetes
// names it so that either side can find it.
func AttachmentName(driver, handle, node string) string {
	return fmt.Sprintf("csi-%x", sha256.Sum256([]byte(handle+driver+node)))
}

// attacherFinalizer is held while the driver may have the volume published to the node.
func attacherFinalizer(driver string) string { return "external-attacher/" + driver }

// attachment waits for the volume's VolumeAttachment on this node to be attached and
// returns its publish context.
func (n *Node) attachment(ctx context.Context, driver, handle string) (map[string]string, error) {
	name := AttachmentName(driver, handle, n.name)
	va, err := n.client.StorageV1().VolumeAttachments().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("waiting for VolumeAttachment %s (volume %s of driver %s)", name, handle, driver)
	}
	if err != nil {
		return nil, err
	}
	if !va.Status.Attached {
		if e := va.Status.AttachError; e != nil {
			return nil, fmt.Errorf("volume %s is not attached: %s", handle, e.Message)
		}
		return nil, fmt.Errorf("waiting for volume %s to be attached", handle)
	}
	return va.Status.AttachmentMetadata, nil
}

// Attacher is the agent's external-attacher: it calls ControllerPublishVolume for
// the VolumeAttachments naming this node and a driver registered here, and
// ControllerUnpublishVolume when they are deleted, reporting in their status.
type Attacher struct {
	node        *Node
	attachments storagelisters.VolumeAttachmentLister
	volumes     corelisters.PersistentVolumeLister
	queue       *controller.Controller
}

// NewAttacher registers the attacher's informers on c.
func NewAttacher(c *controller.Context, n *Node) *Attacher {
	vai, pvi := c.Informers.Storage().V1().VolumeAttachments(), c.Informers.Core().V1().PersistentVolumes()
	a := &Attacher{node: n, attachments: vai.Lister(), volumes: pvi.Lister()}
	a.queue = controller.New("csi-attach", a.sync, 2)
	a.queue.Watch(vai.Informer(), a.queue.Handler())
	a.queue.Watch(pvi.Informer(), nil)
	return a
}

// Run attaches and detaches until ctx ends; attachments are looked at again every
// 10 s, as a driver may register after its attachment was made.
func (a *Attacher) Run(ctx context.Context) {
	go func() {
		for ctx.Err() == nil {
			time.Sleep(10 * time.Second)
			vas, err := a.attachments.List(labels.Everything())
			if err != nil {
				continue
			}
			for _, va := range vas {
				if va.Spec.NodeName == a.node.name && (!va.Status.Attached || va.DeletionTimestamp != nil) {
					a.queue.Enqueue(va)
				}
			}
		}
	}()
	a.queue.Run(ctx)
}

func (a *Attacher) sync(ctx context.Context, key string) error {
	va, err := a.attachments.Get(key)
	if apierrors.IsNotFound(err) || (err == nil && va.Spec.NodeName != a.node.name) {
		return nil
	}
	if err != nil {
		return err
	}
	d, err := a.node.Driver(va.Spec.Attacher)
	if err != nil {
		return nil // not registered here (yet): Run looks again
	}
	if va.DeletionTimestamp != nil {
		return a.detach(ctx, d, va)
	}
	if va.Status.Attached {
		return nil
	}
	return a.attach(ctx, d, va)
}

func (a *Attacher) attach(ctx context.Context, d *Driver, va *storagev1.VolumeAttachment) error {
	va = va.DeepCopy()
	client := a.node.client.StorageV1().VolumeAttachments()
	if fin := attacherFinalizer(d.Name); !slices.Contains(va.Finalizers, fin) {
		va.Finalizers = append(va.Finalizers, fin)
		updated, err := client.Update(ctx, va, metav1.UpdateOptions{})
		if err != nil {
			return err
		}
		va = updated
	}
	meta, err := a.publish(ctx, d, va)
	if err != nil {
		va.Status.AttachError = &storagev1.VolumeError{Time: metav1.Now(), Message: err.Error()}
	} else {
		va.Status = storagev1.VolumeAttachmentStatus{Attached: true, AttachmentMetadata: meta}
	}
	if _, uerr := client.UpdateStatus(ctx, va, metav1.UpdateOptions{}); uerr != nil {
		return uerr
	}
	return err
}

func (a *Attacher) publish(ctx context.Context, d *Driver, va *storagev1.VolumeAttachment) (map[string]string, error) {
	pv, err := a.source(va)
	if err != nil {
		return nil, err
	}
	if !d.publish {
		return nil, nil // attachment is required but the driver has nothing to do
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := d.controller.ControllerPublishVolume(cctx, &csi.ControllerPublishVolumeRequest{
		VolumeId: pv.Spec.CSI.VolumeHandle, NodeId: d.NodeID, Readonly: pv.Spec.CSI.ReadOnly,
		VolumeCapability: mountCapability(pv.Spec.CSI.FSType, accessMode(pv.Spec.AccessModes)),
		VolumeContext:    pv.Spec.CSI.VolumeAttributes,
	})
	if err != nil {
		return nil, fmt.Errorf("ControllerPublishVolume: %w", err)
	}
	return resp.GetPublishContext(), nil
}

func (a *Attacher) source(va *storagev1.VolumeAttachment) (*corev1.PersistentVolume, error) {
	name := va.Spec.Source.PersistentVolumeName
	if name == nil {
		return nil, fmt.Errorf("only attachments of persistent volumes are supported")
	}
	pv, err := a.volumes.Get(*name)
	if err != nil {
		return nil, fmt.Errorf("persistentvolume %s: %w", *name, err)
	}
	if pv.Spec.CSI == nil {
		return nil, fmt.Errorf("persistentvolume %s is not a CSI volume", *name)
	}
	return pv, nil
}

// detach unpublishes the volume from the node, then lets the attachment go.
func (a *Attacher) detach(ctx context.Context, d *Driver, va *storagev1.VolumeAttachment) error {
	fin := attacherFinalizer(d.Name)
	if !slices.Contains(va.Finalizers, fin) {
		return nil
	}
	if pv, err := a.source(va); err == nil && d.publish {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		if _, err := d.controller.ControllerUnpublishVolume(cctx, &csi.ControllerUnpublishVolumeRequest{
			VolumeId: pv.Spec.CSI.VolumeHandle, NodeId: d.NodeID}); err != nil {
			va = va.DeepCopy()
			va.Status.DetachError = &storagev1.VolumeError{Time: metav1.Now(), Message: err.Error()}
			_, _ = a.node.client.StorageV1().VolumeAttachments().UpdateStatus(ctx, va, metav1.UpdateOptions{})
			return err
		}
	}
	va = va.DeepCopy()
	va.Finalizers = slices.DeleteFunc(va.Finalizers, func(f string) bool { return f == fin })
	_, err := a.node.client.StorageV1().VolumeAttachments().Update(ctx, va, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
