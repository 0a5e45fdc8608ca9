package apiserver

import (
	"reflect"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/apiextensions"
	"skiff/internal/resources"
)

// toStorage converts a decoded object of the served version to the stored version.
func toStorage(ep *endpoint, obj runtime.Object) (runtime.Object, error) {
	if ep.custom != nil {
		return apiextensions.ToVersion(obj, ep.Storage), nil
	}
	return convert(obj, ep.StorageGVK())
}

// toServed converts a stored object to the version the request addressed. The result
// shares memory with obj when no conversion was needed: callers copy before changing it.
func toServed(ep *endpoint, obj runtime.Object) (runtime.Object, error) {
	if ep.GroupVersion() == ep.Storage {
		return obj, nil
	}
	if ep.custom != nil {
		return apiextensions.ToVersion(obj, ep.GroupVersion()), nil
	}
	return convert(obj, ep.GVK())
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
