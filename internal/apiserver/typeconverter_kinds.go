package apiserver

import (
	apiextensionsapply "k8s.io/apiextensions-apiserver/pkg/client/applyconfiguration"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/client-go/applyconfigurations"
	smdtyped "sigs.k8s.io/structured-merge-diff/v6/typed"

	"skiff/internal/resources"
)

// builtinTypes converts built-in objects for the field manager: client-go's schemas
// know the core kinds, the apiextensions module's its CustomResourceDefinition.
type builtinTypes struct {
	core, apiextensions managedfields.TypeConverter
}

func newBuiltinTypes() managedfields.TypeConverter {
	return builtinTypes{
		core:          applyconfigurations.NewTypeConverter(resources.Scheme),
		apiextensions: apiextensionsapply.NewTypeConverter(resources.Scheme),
	}
}

func (b builtinTypes) of(gv string) managedfields.TypeConverter {
	if gv == "apiextensions.k8s.io/v1" {
		return b.apiextensions
	}
	return b.core
}

func (b builtinTypes) ObjectToTyped(obj runtime.Object, opts ...smdtyped.ValidationOptions) (*smdtyped.TypedValue, error) {
	return b.of(obj.GetObjectKind().GroupVersionKind().GroupVersion().String()).ObjectToTyped(obj, opts...)
}

func (b builtinTypes) TypedToObject(v *smdtyped.TypedValue) (runtime.Object, error) {
	return b.core.TypedToObject(v)
}
