package apiserver

import (
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"
	smdschema "sigs.k8s.io/structured-merge-diff/v6/schema"
	smdtyped "sigs.k8s.io/structured-merge-diff/v6/typed"
	"sigs.k8s.io/structured-merge-diff/v6/value"

	"skiff/internal/resources"
)

// typeConverter skips the schema walk the field manager asks for on every
// update. The field manager converts both the live and the new object on each
// write, and validates each with duplicates allowed; for a Go struct of a
// built-in type that walk can only find what the types already rule out (a
// string where the schema wants a number, a map where it wants a list), and the
// comparison that follows walks both objects again and reports any missing list
// keys itself. Skipping it takes a third off the field manager's cost, which is
// the largest single part of a pod create. Strict conversions (the applied
// configuration of server-side apply, which must reject duplicates) are left to
// the library.
type typeConverter struct {
	managedfields.TypeConverter
	types sync.Map // schema.GroupVersionKind -> parsedType
}

type parsedType struct {
	schema  *smdschema.Schema
	typeRef smdschema.TypeRef
}

func newTypeConverter(inner managedfields.TypeConverter) *typeConverter {
	return &typeConverter{TypeConverter: inner}
}

func (c *typeConverter) ObjectToTyped(obj runtime.Object, opts ...smdtyped.ValidationOptions) (*smdtyped.TypedValue, error) {
	if _, ok := obj.(*unstructured.Unstructured); ok || !onlyAllowDuplicates(opts) {
		return c.TypeConverter.ObjectToTyped(obj, opts...)
	}
	t, err := c.parsed(obj.GetObjectKind().GroupVersionKind())
	if err != nil {
		return nil, err
	}
	v, err := value.NewValueReflect(obj)
	if err != nil {
		return nil, err
	}
	return smdtyped.AsTypedUnvalidated(v, t.schema, t.typeRef), nil
}

// parsed finds a kind's schema and type by converting an empty object of it once.
func (c *typeConverter) parsed(gvk schema.GroupVersionKind) (parsedType, error) {
	if t, ok := c.types.Load(gvk); ok {
		return t.(parsedType), nil
	}
	empty, err := resources.Scheme.New(gvk)
	if err != nil {
		return parsedType{}, err
	}
	empty.GetObjectKind().SetGroupVersionKind(gvk)
	tv, err := c.TypeConverter.ObjectToTyped(empty)
	if err != nil {
		return parsedType{}, err
	}
	t := parsedType{schema: tv.Schema(), typeRef: tv.TypeRef()}
	c.types.Store(gvk, t)
	return t, nil
}

func onlyAllowDuplicates(opts []smdtyped.ValidationOptions) bool {
	return len(opts) == 1 && opts[0] == smdtyped.AllowDuplicates
}

// sameVersion hands the field manager a typed object already in the version it
// asks for as it is, where the scheme returns a deep copy. The field manager
// only reads the objects it converts (to make typed values of them) or changes
// ones it has just made, and built-in kinds record managed fields in their
// storage version, so each built-in write paid for two copies (the new object's
// and the stored one's) that nothing needed. Unstructured objects (server-side
// apply makes them) still go to the scheme, which turns them into typed ones.
type sameVersion struct{ runtime.ObjectConvertor }

func (c sameVersion) ConvertToVersion(in runtime.Object, gv runtime.GroupVersioner) (runtime.Object, error) {
	gvk := in.GetObjectKind().GroupVersionKind()
	if _, generic := in.(runtime.Unstructured); generic || gvk.Empty() {
		return c.ObjectConvertor.ConvertToVersion(in, gv)
	}
	if target, ok := gv.KindForGroupVersionKinds([]schema.GroupVersionKind{gvk}); ok && target == gvk {
		return in, nil
	}
	return c.ObjectConvertor.ConvertToVersion(in, gv)
}
