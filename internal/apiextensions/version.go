// Package apiextensions serves CustomResourceDefinitions: it turns each served
// version of a CRD into what the API server needs to store its objects as
// unstructured JSON (a resource description, a strategy that defaults, prunes and
// validates with the CRD's schema and CEL rules, a table printer, the scale
// mapping), and decides the CRD's NamesAccepted and Established conditions. The
// schema work is the apiextensions-apiserver library's; this package wires it.
package apiextensions

import (
	"fmt"
	"strings"
	"sync/atomic"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apiextensions-apiserver/pkg/registry/customresource"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/managedfields"

	"skiff/internal/printers"
	"skiff/internal/resources"
)

// Version is one served version of a CustomResourceDefinition.
type Version struct {
	// Info describes the endpoint; its Strategy works on unstructured objects.
	Info *resources.Info
	// Printer renders the CRD's additionalPrinterColumns.
	Printer *printers.Printer
	// Types gives server-side apply the schema's structure (list types, map keys).
	Types managedfields.TypeConverter
	// Scale maps the scale subresource onto the object; nil without one.
	Scale *apiextensionsv1.CustomResourceSubresourceScale
	// Convert converts objects between the CRD's versions; every version of a
	// CRD shares it.
	Convert *Converter

	structural *structuralschema.Structural
	// embedded: the schema has embedded resources.
	embedded bool
	// terminating is set once the CRD is being deleted: no new objects then.
	terminating atomic.Bool
}

// SetTerminating refuses new objects from now on: the CRD is being deleted.
func (v *Version) SetTerminating() { v.terminating.Store(true) }

// Terminating reports a version of a CRD being deleted.
func (v *Version) Terminating() bool { return v.terminating.Load() }

// Versions returns every served version of an established CRD; conv makes its
// webhook converter, if it has one.
func Versions(crd *apiextensionsv1.CustomResourceDefinition, conv *Conversions) ([]*Version, error) {
	storage := ""
	for _, v := range crd.Spec.Versions {
		if v.Storage {
			storage = v.Name
		}
	}
	if storage == "" {
		return nil, fmt.Errorf("CustomResourceDefinition %s has no storage version", crd.Name)
	}
	types := lazyTypes(crd)
	converter, err := conv.converter(crd)
	if err != nil {
		return nil, err
	}
	var out []*Version
	for _, v := range crd.Spec.Versions {
		if !v.Served {
			continue
		}
		ver, err := newVersion(crd, v, schema.GroupVersion{Group: crd.Spec.Group, Version: storage}, converter)
		if err != nil {
			return nil, fmt.Errorf("version %s: %w", v.Name, err)
		}
		ver.Types = types
		out = append(out, ver)
	}
	return out, nil
}

func newVersion(crd *apiextensionsv1.CustomResourceDefinition, v apiextensionsv1.CustomResourceDefinitionVersion, storage schema.GroupVersion, conv *Converter) (*Version, error) {
	gv := schema.GroupVersion{Group: crd.Spec.Group, Version: v.Name}
	names := crd.Status.AcceptedNames
	info := &resources.Info{
		GroupVersionResource: gv.WithResource(names.Plural),
		Kind:                 names.Kind,
		ListKind:             names.ListKind,
		Singular:             names.Singular,
		ShortNames:           names.ShortNames,
		Categories:           names.Categories,
		Namespaced:           crd.Spec.Scope == apiextensionsv1.NamespaceScoped,
		Storage:              storage,
	}
	if v.Deprecated {
		info.Deprecated = fmt.Sprintf("%s/%s %s is deprecated", crd.Spec.Group, v.Name, names.Kind)
		if v.DeprecationWarning != nil {
			info.Deprecated = *v.DeprecationWarning
		}
	}
	internal, err := internalSchema(v.Schema)
	if err != nil {
		return nil, err
	}
	structural := conv.schemas[gv.String()]
	validator, err := newSchemaValidator(internal)
	if err != nil {
		return nil, err
	}
	var status *apiextensionsinternal.CustomResourceSubresourceStatus
	var statusValidator apiservervalidation.SchemaValidator
	var scale *apiextensionsinternal.CustomResourceSubresourceScale
	out := &Version{Info: info, structural: structural, embedded: conv.embedded[gv.String()], Convert: conv}
	if s := v.Subresources; s != nil {
		if s.Status != nil {
			info.Subresources = append(info.Subresources, "status")
			status = &apiextensionsinternal.CustomResourceSubresourceStatus{}
			if internal != nil {
				if st, ok := internal.Properties["status"]; ok {
					if statusValidator, err = newSchemaValidator(&st); err != nil {
						return nil, err
					}
				}
			}
		}
		if s.Scale != nil {
			info.Subresources = append(info.Subresources, "scale")
			out.Scale = s.Scale
			scale = &apiextensionsinternal.CustomResourceSubresourceScale{}
			if err := apiextensionsv1.Convert_v1_CustomResourceSubresourceScale_To_apiextensions_CustomResourceSubresourceScale(s.Scale, scale, nil); err != nil {
				return nil, err
			}
		}
	}
	lib := customresource.NewStrategy(nil, info.Namespaced, gv.WithKind(names.Kind), validator, statusValidator,
		structural, status, scale, v.SelectableFields)
	bare := customresource.NewStrategy(nil, info.Namespaced, gv.WithKind(names.Kind), validator, statusValidator,
		nil, status, scale, v.SelectableFields)
	info.Strategy = &strategy{version: gv, conv: conv, main: lib, status: customresource.NewStatusStrategy(lib),
		create: newCreateChecks(bare, structural, out.embedded)}
	if out.Printer, err = printer(v.AdditionalPrinterColumns); err != nil {
		return nil, err
	}
	return out, nil
}

// internalSchema converts a version's schema to the internal form the library's
// validators take; nil when the version has none.
func internalSchema(v *apiextensionsv1.CustomResourceValidation) (*apiextensionsinternal.JSONSchemaProps, error) {
	if v == nil {
		return nil, nil
	}
	out := &apiextensionsinternal.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(v, out, nil); err != nil {
		return nil, err
	}
	return out.OpenAPIV3Schema, nil
}

// structuralOf is the structural schema with its defaults pruned as they are
// applied; a CRD without schema preserves everything.
func structuralOf(s *apiextensionsinternal.JSONSchemaProps) (*structuralschema.Structural, error) {
	if s == nil {
		t := true
		s = &apiextensionsinternal.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &t}
	}
	structural, err := structuralschema.NewStructural(s)
	if err != nil {
		return nil, err
	}
	structural = structural.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(structural); err != nil {
		return nil, err
	}
	return structural, nil
}

// fieldPath turns a scale path such as ".spec.replicas" into its keys.
func fieldPath(p string) []string { return strings.Split(strings.TrimPrefix(p, "."), ".") }
