package csi

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
	vr "skiff/internal/volumeresize"
)

// Resizer grows the CSI volumes of claims that ask for more storage, as Kubernetes'
// external-resizer (ControllerExpandVolume, on the node that provisions for the
// volume) and the kubelet (NodeExpandVolume, on the node where it is published) do.
type Resizer struct {
	p   *Provisioner
	rec record.EventRecorder
	q   *controller.Controller
}

// NewResizer registers the resizer on the provisioner's informers.
func NewResizer(c *controller.Context, p *Provisioner) *Resizer {
	r := &Resizer{p: p, rec: c.Recorder("csi-resizer/" + p.node.name)}
	r.q = controller.New("csi-resize", r.sync, 1)
	r.q.Watch(c.Informers.Core().V1().PersistentVolumeClaims().Informer(), r.q.Handler())
	r.q.Watch(c.Informers.Core().V1().PersistentVolumes().Informer(), nil)
	return r
}

// Run resizes until ctx ends.
func (r *Resizer) Run(ctx context.Context) { r.q.Run(ctx) }

// published wakes the resizer for the claim of a volume a pod just published: a
// filesystem left to grow is grown then.
func (r *Resizer) published(pv *corev1.PersistentVolume) {
	if ref := pv.Spec.ClaimRef; ref != nil {
		r.q.Enqueue(ref.Namespace + "/" + ref.Name)
	}
}

func (r *Resizer) sync(ctx context.Context, key string) error {
	pvc, found, err := controller.Get(key, r.p.claims.PersistentVolumeClaims)
	if !found || err != nil {
		return err
	}
	pv, err := r.p.volumes.Get(pvc.Spec.VolumeName)
	if err != nil || pv.Spec.CSI == nil {
		return nil
	}
	if want, ok := vr.ControllerPending(pvc); ok {
		return r.controllerExpand(ctx, pvc, pv, want)
	}
	if vr.NodePending(pvc) {
		return r.nodeExpand(ctx, pvc, pv)
	}
	return nil
}

// controllerExpand asks the driver to grow the volume, records the new size on the
// PersistentVolume and moves the claim on to the node's part or to done.
func (r *Resizer) controllerExpand(ctx context.Context, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume, want resource.Quantity) error {
	d, err := r.p.node.Driver(pv.Spec.CSI.Driver)
	if err != nil || !d.provision || !r.p.reaches(d, pv) {
		return nil
	}
	if !d.expand && !d.nodeExpand {
		r.rec.Eventf(pvc, corev1.EventTypeWarning, "VolumeResizeFailed", "CSI driver %q cannot expand volumes", d.Name)
		_, err := r.writeClaim(ctx, vr.ControllerFailed(vr.StartController(pvc, want), fmt.Sprintf("CSI driver %q cannot expand volumes", d.Name), true))
		return err
	}
	if pvc, err = r.writeClaim(ctx, vr.StartController(pvc, want)); err != nil {
		return err
	}
	r.rec.Eventf(pvc, corev1.EventTypeNormal, "Resizing", "External resizer is resizing volume %s", pv.Name)
	size, nodeExpansion := want, d.nodeExpand
	if d.expand {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		resp, err := d.controller.ControllerExpandVolume(cctx, &csi.ControllerExpandVolumeRequest{
			VolumeId: pv.Spec.CSI.VolumeHandle, CapacityRange: &csi.CapacityRange{RequiredBytes: want.Value()},
			VolumeCapability: mountCapability(pv.Spec.CSI.FSType, accessMode(pv.Spec.AccessModes)),
		})
		if err != nil {
			msg := fmt.Sprintf("resize volume %q by resizer %q failed: ControllerExpandVolume: %v", pv.Name, d.Name, err)
			r.rec.Event(pvc, corev1.EventTypeWarning, "VolumeResizeFailed", msg)
			if _, werr := r.writeClaim(ctx, vr.ControllerFailed(pvc, msg, final(err))); werr != nil || final(err) {
				return werr
			}
			return err
		}
		if resp.GetCapacityBytes() > want.Value() {
			size = *resource.NewQuantity(resp.GetCapacityBytes(), resource.BinarySI)
		}
		nodeExpansion = resp.GetNodeExpansionRequired()
	}
	grown := pv.DeepCopy()
	grown.Spec.Capacity[corev1.ResourceStorage] = size
	if _, err := r.p.node.client.CoreV1().PersistentVolumes().Update(ctx, grown, metav1.UpdateOptions{}); err != nil {
		return err
	}
	if nodeExpansion {
		r.rec.Eventf(pvc, corev1.EventTypeNormal, "FileSystemResizeRequired", "Require file system resize of volume on node")
	} else {
		r.rec.Eventf(pvc, corev1.EventTypeNormal, "VolumeResizeSuccessful", "Resize volume succeeded")
	}
	_, err = r.writeClaim(ctx, vr.ControllerDone(pvc, size, nodeExpansion))
	return err
}

// final says whether a driver's error will not go away by retrying the same size.
func final(err error) bool {
	switch status.Code(err) {
	case codes.InvalidArgument, codes.OutOfRange, codes.Unimplemented, codes.NotFound:
		return true
	}
	return false
}

// nodeExpand grows the filesystem of a volume published on this node, through the
// first pod's publication (the driver works on the mount, which all pods share).
func (r *Resizer) nodeExpand(ctx context.Context, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume) error {
	p, ok := r.p.node.publicationOf(pv.Spec.CSI.Driver, pv.Spec.CSI.VolumeHandle)
	if !ok {
		return nil // not in use here: the node that publishes it next expands it
	}
	d, err := r.p.node.Driver(p.driver)
	if err != nil {
		return err
	}
	size := pv.Spec.Capacity[corev1.ResourceStorage]
	if asked, ok := pvc.Status.AllocatedResources[corev1.ResourceStorage]; ok && size.Cmp(asked) < 0 {
		// The volume's new size has not reached this node's cache yet.
		return fmt.Errorf("volume %s is %s, not yet the %s the controller grew it to", pv.Name, size.String(), asked.String())
	}
	if d.nodeExpand {
		if pvc, err = r.writeClaim(ctx, vr.StartNode(pvc)); err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		_, err := d.node.NodeExpandVolume(cctx, &csi.NodeExpandVolumeRequest{
			VolumeId: p.handle, VolumePath: p.target, StagingTargetPath: p.staging,
			CapacityRange:    &csi.CapacityRange{RequiredBytes: size.Value()},
			VolumeCapability: mountCapability(pv.Spec.CSI.FSType, accessMode(pv.Spec.AccessModes)),
		})
		if err != nil {
			msg := fmt.Sprintf("MountVolume.NodeExpandVolume failed for volume %q: %v", pv.Name, err)
			r.rec.Event(pvc, corev1.EventTypeWarning, "FileSystemResizeFailed", msg)
			_, _ = r.writeClaim(ctx, vr.NodeFailed(pvc, msg))
			return err
		}
	}
	r.rec.Eventf(pvc, corev1.EventTypeNormal, "FileSystemResizeSuccessful",
		"MountVolume.NodeExpandVolume succeeded for volume %q %s", pv.Name, filepath.Base(filepath.Dir(p.target)))
	_, err = r.writeClaim(ctx, vr.Finish(pvc, size))
	return err
}

// writeClaim writes a claim's status and returns what was written; a conflict is
// retried by the queue.
func (r *Resizer) writeClaim(ctx context.Context, pvc *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	return r.p.node.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, pvc, metav1.UpdateOptions{})
}
