package apiextensions

import (
	"context"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// libraryStrategy is the part of the library's custom resource strategy used here.
type libraryStrategy interface {
	PrepareForCreate(ctx context.Context, obj runtime.Object)
	PrepareForUpdate(ctx context.Context, obj, old runtime.Object)
	ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList
}

// strategy adapts the library's custom resource strategy to resources.Strategy.
// Objects arrive in the storage version; they are checked as the served version,
// whose schema the CRD gives.
type strategy struct {
	version schema.GroupVersion
	conv    *Converter
	main    interface {
		libraryStrategy
		Validate(ctx context.Context, obj runtime.Object) field.ErrorList
		GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error)
	}
	status libraryStrategy
	// create checks new objects.
	create *createChecks
}

// Default applies the defaults of the schema of obj's version (the request's
// version's defaults were applied as it was decoded).
func (s *strategy) Default(obj runtime.Object) { s.conv.Default(obj) }

func (s *strategy) PrepareForCreate(obj runtime.Object) {
	s.main.PrepareForCreate(context.Background(), obj)
}

func (s *strategy) PrepareForUpdate(obj, old runtime.Object, subresource string) {
	if subresource == "status" {
		s.status.PrepareForUpdate(context.Background(), obj, old)
		return
	}
	s.main.PrepareForUpdate(context.Background(), obj, old)
}

// Validate checks the object against the schema, its metadata and its CEL rules
// (transition rules see the old object), in the served version.
func (s *strategy) Validate(obj, old runtime.Object) field.ErrorList {
	obj, err := s.conv.Convert(obj, s.version)
	if err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	if old == nil {
		return s.create.validate(context.Background(), obj)
	}
	if old, err = s.conv.Convert(old, s.version); err != nil {
		return field.ErrorList{field.InternalError(nil, err)}
	}
	return s.main.ValidateUpdate(context.Background(), obj, old)
}

// Fields are metadata.name, metadata.namespace and the CRD's selectableFields of the
// served version, read from obj converted to that version as a read would return it:
// a field selector on another version than the storage one sees that version's fields.
func (s *strategy) Fields(obj runtime.Object) fields.Set {
	obj, err := s.conv.Convert(obj, s.version)
	if err != nil {
		return fields.Set{}
	}
	_, f, err := s.main.GetAttrs(obj)
	if err != nil {
		return fields.Set{}
	}
	return f
}

// ToVersion returns obj as version gv: with conversion "None" only apiVersion
// changes. The result shares everything but the top-level map with obj.
func ToVersion(obj runtime.Object, gv schema.GroupVersion) runtime.Object {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok || u.GetAPIVersion() == gv.String() {
		return obj
	}
	out := &unstructured.Unstructured{Object: make(map[string]interface{}, len(u.Object))}
	for k, v := range u.Object {
		out.Object[k] = v
	}
	out.SetAPIVersion(gv.String())
	return out
}

// Prune drops what the schema does not know and returns each dropped field's
// path ("spec.bogus"), for the Warning header or a strict refusal. Malformed
// metadata fields are dropped unless strict.
func (v *Version) Prune(u *unstructured.Unstructured, strict bool) ([]string, error) {
	metaErr, unknown := coerceRoot(u.Object, v.structural, v.embedded,
		objectmeta.CoerceOptions{DropInvalidFields: !strict, ReturnUnknownFieldPaths: true})
	if metaErr != nil {
		return nil, metaErr
	}
	pruned := pruning.PruneWithOptions(u.Object, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	return append(unknown, pruned...), nil
}
