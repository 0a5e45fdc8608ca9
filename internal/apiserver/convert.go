package apiserver

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/resources"
)

// toStorage converts a decoded object of the served version to the stored version.
func toStorage(ep *endpoint, obj runtime.Object) (runtime.Object, error) {
	if ep.custom != nil {
		return ep.custom.Convert.Convert(obj, ep.Storage)
	}
	return convert(obj, ep.StorageGVK())
}

// toServed converts a stored object to the version the request addressed. The result
// shares memory with obj when no conversion was needed: callers copy before changing it.
// Custom objects are converted from their own apiVersion (those written before
// the CRD's storage version changed are still in the old one), then defaulted.
func toServed(ep *endpoint, obj runtime.Object) (runtime.Object, error) {
	if ep.custom != nil {
		served, err := ep.custom.Convert.Convert(obj, ep.GroupVersion())
		if err != nil {
			return nil, err
		}
		return ep.custom.Convert.Defaulted(served), nil
	}
	if ep.GroupVersion() == ep.Storage {
		return obj, nil
	}
	return convert(obj, ep.GVK())
}

// toServedList converts stored objects to the served version; a conversion webhook
// gets them in one review.
func toServedList(ep *endpoint, objs []runtime.Object) ([]runtime.Object, error) {
	if ep.custom != nil {
		served, err := ep.custom.Convert.ConvertList(objs, ep.GroupVersion())
		for i := range served {
			served[i] = ep.custom.Convert.Defaulted(served[i])
		}
		return served, err
	}
	out := make([]runtime.Object, len(objs))
	for i, o := range objs {
		var err error
		if out[i], err = toServed(ep, o); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func convert(obj runtime.Object, to schema.GroupVersionKind) (runtime.Object, error) {
	target, err := resources.Scheme.New(to)
	if err == nil && reflect.TypeOf(target) == reflect.TypeOf(obj) {
		// One Go type for both versions (autoscaling/v2 and v2beta2): the encoder
		// writes the apiVersion.
		return obj, nil
	}
	return resources.Convert(obj, to)
}
