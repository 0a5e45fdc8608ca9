package csi

import (
	"context"
	"fmt"

	"github.com/container-storage-interface/spec/lib/go/csi"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
)

// Event reasons, as external-resizer's modify controller names them.
const (
	reasonModify        = "VolumeModify"
	reasonModifyFailed  = "VolumeModifyFailed"
	reasonModifySuccess = "VolumeModifySuccessful"
)

// Modifier applies a bound claim's new VolumeAttributesClass to its volume, as
// Kubernetes' external-resizer does, on the node that provisions for the volume:
//
//	spec.volumeAttributesClassName != status.currentVolumeAttributesClassName
//	  -> modifyVolumeStatus Pending (the class does not exist yet)
//	  -> InProgress (condition ModifyingVolume), ControllerModifyVolume with its parameters
//	  -> done: the volume's spec.volumeAttributesClassName, then the claim's current
//	     class, are the new one; modifyVolumeStatus and the conditions go
//	  -> or Infeasible (condition ModifyVolumeError, a VolumeModifyFailed event) when the
//	     driver refuses the parameters for good; it stays so until the claim names
//	     another class. Other errors keep InProgress and are retried with back-off.
//
// Naming the current class again while a modification is pending or infeasible
// drops it (the volume never changed).
type Modifier struct {
	p   *Provisioner
	rec record.EventRecorder
	q   *controller.Controller
}

// NewModifier registers the modifier on the provisioner's informers.
func NewModifier(c *controller.Context, p *Provisioner) *Modifier {
	m := &Modifier{p: p, rec: c.Recorder("external-resizer " + p.node.name)}
	m.q = controller.New("csi-modify", m.sync, 1)
	st := c.Informers.Storage().V1()
	m.q.Watch(c.Informers.Core().V1().PersistentVolumeClaims().Informer(), m.q.Handler())
	m.q.Watch(c.Informers.Core().V1().PersistentVolumes().Informer(), nil)
	m.q.Watch(st.VolumeAttributesClasses().Informer(), controller.Each(m.classCreated))
	return m
}

// Run modifies until ctx ends.
func (m *Modifier) Run(ctx context.Context) { m.q.Run(ctx) }

// classCreated wakes the bound claims that wait for a class (Pending).
func (m *Modifier) classCreated(obj any) {
	vac, ok := controller.Unwrap[*storagev1.VolumeAttributesClass](obj)
	if !ok {
		return
	}
	claims, err := m.p.claims.List(labels.Everything())
	if err != nil {
		return
	}
	for _, c := range claims {
		if c.Spec.VolumeName != "" && ptr.Deref(c.Spec.VolumeAttributesClassName, "") == vac.Name {
			m.q.Enqueue(c)
		}
	}
}

func (m *Modifier) sync(ctx context.Context, key string) error {
	pvc, found, err := controller.Get(key, m.p.claims.PersistentVolumeClaims)
	if !found || err != nil || pvc.Status.Phase != corev1.ClaimBound || pvc.DeletionTimestamp != nil {
		return err
	}
	pv, err := m.p.volumes.Get(pvc.Spec.VolumeName)
	if err != nil || pv.Spec.CSI == nil {
		return nil
	}
	d, err := m.p.node.Driver(pv.Spec.CSI.Driver)
	if err != nil || !d.provision || !m.p.reaches(d, pv) {
		return nil
	}
	want, current := ptr.Deref(pvc.Spec.VolumeAttributesClassName, ""), ptr.Deref(pvc.Status.CurrentVolumeAttributesClassName, "")
	if want == "" || want == current {
		_, err := m.writeClaim(ctx, pvc, modifyDropped(pvc))
		return err
	}
	if s := pvc.Status.ModifyVolumeStatus; s != nil && s.TargetVolumeAttributesClassName == want &&
		s.Status == corev1.PersistentVolumeClaimModifyVolumeInfeasible {
		return nil // until the claim names another class
	}
	vac, err := m.p.attrs.Get(want)
	if apierrors.IsNotFound(err) {
		_, err := m.writeClaim(ctx, pvc, modifyPending(pvc, want))
		return err
	}
	if err != nil {
		return err
	}
	switch {
	case vac.DriverName != d.Name:
		return m.infeasible(ctx, pvc, want, fmt.Sprintf("VolumeAttributesClass %q is for driver %q, not the volume's driver %q", want, vac.DriverName, d.Name))
	case !d.modify:
		return m.infeasible(ctx, pvc, want, fmt.Sprintf("CSI driver %q cannot modify volumes (it has no MODIFY_VOLUME capability)", d.Name))
	}
	return m.modify(ctx, pvc, pv, d, vac)
}

// modify calls ControllerModifyVolume and records its outcome: the volume's class
// first, so that a claim never says its volume has a class the volume does not.
func (m *Modifier) modify(ctx context.Context, pvc *corev1.PersistentVolumeClaim, pv *corev1.PersistentVolume, d *Driver, vac *storagev1.VolumeAttributesClass) error {
	// A retry leaves the status as the last attempt left it (with its error), so
	// that it writes nothing, and wakes nothing, unless the outcome changes.
	if s := pvc.Status.ModifyVolumeStatus; s == nil || s.Status != corev1.PersistentVolumeClaimModifyVolumeInProgress || s.TargetVolumeAttributesClassName != vac.Name {
		m.rec.Eventf(pvc, corev1.EventTypeNormal, reasonModify, "external resizer is modifying volume %s with vac %s", pvc.Name, vac.Name)
		var err error
		if pvc, err = m.writeClaim(ctx, pvc, modifyInProgress(pvc, vac.Name)); err != nil {
			return err
		}
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err := d.controller.ControllerModifyVolume(cctx, &csi.ControllerModifyVolumeRequest{
		VolumeId: pv.Spec.CSI.VolumeHandle, MutableParameters: vac.Parameters})
	if err != nil {
		msg := fmt.Sprintf("ControllerModifyVolume of volume %s to %s: %v", pv.Name, vac.Name, err)
		if final(err) {
			return m.infeasible(ctx, pvc, vac.Name, msg)
		}
		m.rec.Event(pvc, corev1.EventTypeWarning, reasonModifyFailed, msg)
		if _, werr := m.writeClaim(ctx, pvc, modifyFailed(pvc, msg)); werr != nil {
			return werr
		}
		return err
	}
	if ptr.Deref(pv.Spec.VolumeAttributesClassName, "") != vac.Name {
		next := pv.DeepCopy()
		next.Spec.VolumeAttributesClassName = ptr.To(vac.Name)
		if _, err := m.p.node.client.CoreV1().PersistentVolumes().Update(ctx, next, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	if _, err := m.writeClaim(ctx, pvc, modifyDone(pvc, vac.Name)); err != nil {
		return err
	}
	m.rec.Eventf(pvc, corev1.EventTypeNormal, reasonModifySuccess, "external resizer modified volume %s with vac %s successfully", pvc.Name, vac.Name)
	return nil
}

// infeasible records a modification that cannot succeed as asked, with an event.
func (m *Modifier) infeasible(ctx context.Context, pvc *corev1.PersistentVolumeClaim, target, msg string) error {
	m.rec.Event(pvc, corev1.EventTypeWarning, reasonModifyFailed, msg)
	_, err := m.writeClaim(ctx, pvc, modifyInfeasible(pvc, target, msg))
	return err
}

// writeClaim writes next as the claim's status unless nothing changed.
func (m *Modifier) writeClaim(ctx context.Context, pvc, next *corev1.PersistentVolumeClaim) (*corev1.PersistentVolumeClaim, error) {
	if equality.Semantic.DeepEqual(pvc.Status, next.Status) {
		return pvc, nil
	}
	return m.p.node.client.CoreV1().PersistentVolumeClaims(pvc.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
}
