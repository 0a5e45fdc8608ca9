package apiserver

import (
	apiextensionsapply "k8s.io/apiextensions-apiserver/pkg/client/applyconfiguration"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	aggregatorapply "k8s.io/kube-aggregator/pkg/client/applyconfiguration"
	smdtyped "sigs.k8s.io/structured-merge-diff/v6/typed"

	"skiff/internal/resources"
)

// builtinTypes converts built-in objects for the field manager: client-go's schemas
// know the core kinds, the apiextensions module's its CustomResourceDefinition and
// kube-aggregator's its APIService.
type builtinTypes struct {
	core, apiextensions, aggregator managedfields.TypeConverter
}

func newBuiltinTypes() managedfields.TypeConverter {
	return builtinTypes{
		core:          applyconfigurations.NewTypeConverter(resources.Scheme),
		apiextensions: apiextensionsapply.NewTypeConverter(resources.Scheme),
		aggregator:    aggregatorapply.NewTypeConverter(resources.Scheme),
	}
}

func (b builtinTypes) of(gv string) managedfields.TypeConverter {
	switch gv {
	case "apiextensions.k8s.io/v1":
		return b.apiextensions
	case "apiregistration.k8s.io/v1":
		return b.aggregator
	}
	return b.core
}

func (b builtinTypes) ObjectToTyped(obj runtime.Object, opts ...smdtyped.ValidationOptions) (*smdtyped.TypedValue, error) {
	return b.of(obj.GetObjectKind().GroupVersionKind().GroupVersion().String()).ObjectToTyped(obj, opts...)
}

func (b builtinTypes) TypedToObject(v *smdtyped.TypedValue) (runtime.Object, error) {
	return b.core.TypedToObject(v)
}
