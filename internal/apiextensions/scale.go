package apiextensions

import (
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// ScaleOf reads the scale subresource through the CRD's replicas and selector paths.
func (v *Version) ScaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || v.Scale == nil {
		return nil, fmt.Errorf("%T has no scale subresource", obj)
	}
	s := &autoscalingv1.Scale{}
	s.Name, s.Namespace, s.UID = u.GetName(), u.GetNamespace(), u.GetUID()
	s.ResourceVersion, s.CreationTimestamp = u.GetResourceVersion(), u.GetCreationTimestamp()
	if n, ok, _ := unstructured.NestedInt64(u.Object, fieldPath(v.Scale.SpecReplicasPath)...); ok {
		s.Spec.Replicas = int32(n)
	}
	if n, ok, _ := unstructured.NestedInt64(u.Object, fieldPath(v.Scale.StatusReplicasPath)...); ok {
		s.Status.Replicas = int32(n)
	}
	if p := v.Scale.LabelSelectorPath; p != nil {
		s.Status.Selector, _, _ = unstructured.NestedString(u.Object, fieldPath(*p)...)
	}
	return s, nil
}

// SetReplicas writes the desired replicas at the CRD's specReplicasPath.
func (v *Version) SetReplicas(obj runtime.Object, n int32) {
	if u, ok := obj.(*unstructured.Unstructured); ok && v.Scale != nil {
		_ = unstructured.SetNestedField(u.Object, int64(n), fieldPath(v.Scale.SpecReplicasPath)...)
	}
}
