package csi

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
)

// A claim's VolumeAttributesClass is a set of mutable parameters its driver applies
// to the volume: at CreateVolume (mutable_parameters, as external-provisioner
// passes them) and later, when the claim names another class, by
// ControllerModifyVolume (modify.go).

// attributesClass is the class a claim names, nil for none.
func attributesClass(pvc *corev1.PersistentVolumeClaim) *string {
	if name := ptr.Deref(pvc.Spec.VolumeAttributesClassName, ""); name != "" {
		return &name
	}
	return nil
}

// mutableParameters are the parameters of the claim's class for CreateVolume, or
// why the claim cannot be provisioned yet: its class does not exist (it waits for
// it, as in Kubernetes) or belongs to another driver.
func (p *Provisioner) mutableParameters(pvc *corev1.PersistentVolumeClaim, d *Driver) (map[string]string, string) {
	name := attributesClass(pvc)
	if name == nil {
		return nil, ""
	}
	vac, err := p.attrs.Get(*name)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Sprintf("VolumeAttributesClass %q not found; the claim waits until it is created", *name)
	}
	if err != nil {
		return nil, err.Error()
	}
	if vac.DriverName != d.Name {
		return nil, fmt.Sprintf("VolumeAttributesClass %q is for driver %q, which does not match driver name %q", *name, vac.DriverName, d.Name)
	}
	return vac.Parameters, ""
}

// classCreated wakes the unbound claims that wait for a class.
func (p *Provisioner) classCreated(obj any) {
	vac, ok := controller.Unwrap[*storagev1.VolumeAttributesClass](obj)
	if !ok {
		return
	}
	claims, err := p.claims.List(labels.Everything())
	if err != nil {
		return
	}
	for _, c := range claims {
		if c.Spec.VolumeName == "" && ptr.Deref(c.Spec.VolumeAttributesClassName, "") == vac.Name {
			p.claimQueue.Enqueue(c)
		}
	}
}
