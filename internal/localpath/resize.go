package localpath

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	vr "skiff/internal/volumeresize"
)

// resize grows a bound claim's local-path volume of this node. A directory has no
// size of its own, so growing is checking that the node's data dir has room for
// the difference and recording the new size on the volume and the claim; nothing
// is left for the node to do to the filesystem. Too little room is final for that
// size (ControllerResizeInfeasible): the user asks for less, or frees space and asks again.
func (p *Provisioner) resize(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	want, ok := vr.ControllerPending(pvc)
	if !ok {
		return nil
	}
	pv, err := p.volumes.Get(pvc.Spec.VolumeName)
	if err != nil || !p.owns(pv) {
		return nil
	}
	have := pv.Spec.Capacity[corev1.ResourceStorage]
	if want.Cmp(have) > 0 {
		free, err := p.free(pv.Spec.Local.Path)
		if err != nil {
			return err
		}
		growth := want.DeepCopy()
		growth.Sub(have)
		if growth.Value() > free {
			msg := fmt.Sprintf("cannot grow volume %s by %s: its node's data dir has only %s free", pv.Name,
				growth.String(), resource.NewQuantity(free, resource.BinarySI).String())
			p.rec.Event(pvc, corev1.EventTypeWarning, "VolumeResizeFailed", msg)
			_, err := p.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx,
				vr.ControllerFailed(vr.StartController(pvc, want), msg, true), metav1.UpdateOptions{})
			return err
		}
		if id, ok := projectOf(pv); ok {
			if err := p.quotas.Limit(pv.Spec.Local.Path, id, want.Value()); err != nil {
				p.rec.Eventf(pvc, corev1.EventTypeWarning, "VolumeResizeFailed", "raise the quota of volume %s: %v", pv.Name, err)
				return err
			}
		}
		grown := pv.DeepCopy()
		grown.Spec.Capacity[corev1.ResourceStorage] = want
		if _, err := p.client.CoreV1().PersistentVolumes().Update(ctx, grown, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	if _, err := p.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx,
		vr.Finish(vr.StartController(pvc, want), want), metav1.UpdateOptions{}); err != nil {
		return err
	}
	enforced := "its project quota too"
	if _, ok := projectOf(pv); !ok {
		enforced = "local-path records the size; it is not enforced"
	}
	p.rec.Eventf(pvc, corev1.EventTypeNormal, "VolumeResizeSuccessful",
		"Resize volume succeeded: %s is now %s (%s)", pv.Name, want.String(), enforced)
	return nil
}
