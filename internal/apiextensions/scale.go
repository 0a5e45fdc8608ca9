package apiextensions

import (
	"fmt"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// ScaleOf reads the scale subresource through the CRD's replicas and selector
// paths, which are those of the served version.
func (v *Version) ScaleOf(obj runtime.Object) (*autoscalingv1.Scale, error) {
	if v.Scale == nil {
		return nil, fmt.Errorf("%T has no scale subresource", obj)
	}
	obj, err := v.Convert.Convert(obj, v.Info.GroupVersion())
	if err != nil {
		return nil, err
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
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

// SetReplicas writes the desired replicas at the served version's
// specReplicasPath; obj keeps its own version.
func (v *Version) SetReplicas(obj runtime.Object, n int32) error {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || v.Scale == nil {
		return nil
	}
	own := u.GroupVersionKind().GroupVersion()
	served, err := v.Convert.Convert(u, v.Info.GroupVersion())
	if err != nil {
		return err
	}
	// A converted copy: None shares nested maps with u, so it is deep-copied first.
	s := served.(*unstructured.Unstructured).DeepCopy()
	if err := unstructured.SetNestedField(s.Object, int64(n), fieldPath(v.Scale.SpecReplicasPath)...); err != nil {
		return err
	}
	back, err := v.Convert.Convert(s, own)
	if err != nil {
		return err
	}
	u.Object = back.(*unstructured.Unstructured).Object
	return nil
}
