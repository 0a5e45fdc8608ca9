package apiextensions

import (
	"fmt"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apiextensions-apiserver/pkg/controller/openapi/builder"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"sigs.k8s.io/structured-merge-diff/v6/typed"

	"skiff/internal/openapi"
)

// objectMeta is the Go name of the definition every custom kind's metadata refers to.
const objectMeta = "k8s.io/apimachinery/pkg/apis/meta/v1.ObjectMeta"

// metaModels are ObjectMeta's OpenAPI v3 definitions and what they refer to, named
// as the CRD OpenAPI builder refers to them. They are picked out of every
// definition there is, so only when the first CRD is served.
var metaModels = sync.OnceValue(func() map[string]*spec.Schema {
	defs := openapi.GetOpenAPIDefinitions(func(path string) spec.Ref {
		return spec.MustCreateRef("#/components/schemas/" + util.ToRESTFriendlyName(path))
	})
	out := map[string]*spec.Schema{}
	var add func(name string)
	add = func(name string) {
		key := util.ToRESTFriendlyName(name)
		if _, ok := out[key]; ok {
			return
		}
		def, ok := defs[name]
		if !ok {
			return
		}
		s := def.Schema
		out[key] = &s
		for _, dep := range def.Dependencies {
			add(dep)
		}
	}
	add(objectMeta)
	return out
})

// typeConverter gives server-side apply the structure of the CRD's schemas (list
// types and map keys, atomic structs), every version of them, with ObjectMeta's.
func typeConverter(crd *apiextensionsv1.CustomResourceDefinition) (managedfields.TypeConverter, error) {
	specs := []*spec3.OpenAPI{{Version: "3.0.0", Components: &spec3.Components{Schemas: metaModels()}}}
	for _, v := range crd.Spec.Versions {
		s, err := builder.BuildOpenAPIV3(crd, v.Name, builder.Options{})
		if err != nil {
			return nil, err
		}
		specs = append(specs, s)
	}
	merged, err := builder.MergeSpecsV3(specs...)
	if err != nil {
		return nil, err
	}
	return managedfields.NewTypeConverter(merged.Components.Schemas, crd.Spec.PreserveUnknownFields)
}

// lazyTypes is typeConverter(crd) built on the first write of the CRD's
// objects: the CRDs the server installs itself (VPA, volume snapshots) see
// none on most clusters, and each converter holds a few hundred KB of parsed
// schemas.
func lazyTypes(crd *apiextensionsv1.CustomResourceDefinition) managedfields.TypeConverter {
	return &lazyConverter{build: sync.OnceValues(func() (managedfields.TypeConverter, error) { return typeConverter(crd) })}
}

type lazyConverter struct {
	build func() (managedfields.TypeConverter, error)
}

func (l *lazyConverter) ObjectToTyped(obj runtime.Object, opts ...typed.ValidationOptions) (*typed.TypedValue, error) {
	tc, err := l.build()
	if err != nil {
		return nil, fmt.Errorf("the schema's structure for server-side apply: %w", err)
	}
	return tc.ObjectToTyped(obj, opts...)
}

func (l *lazyConverter) TypedToObject(v *typed.TypedValue) (runtime.Object, error) {
	tc, err := l.build()
	if err != nil {
		return nil, fmt.Errorf("the schema's structure for server-side apply: %w", err)
	}
	return tc.TypedToObject(v)
}
