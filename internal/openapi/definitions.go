package openapi

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/kube-openapi/pkg/common"
	"k8s.io/kube-openapi/pkg/util"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// extGVK is the extension kubectl looks for to find a kind's schema (on
// definitions) and the kind an operation acts on (on operations).
const extGVK = "x-kubernetes-group-version-kind"

// namedModel stands for a definition that has no Go type of its own, such as
// autoscaling/v2beta2 HorizontalPodAutoscaler, which k8s.io/api no longer
// carries but skiff still serves. The builders ask a model for its name
// through OpenAPIModelName before they fall back to reflection.
type namedModel string

func (m namedModel) OpenAPIModelName() string { return string(m) }

// catalog knows every definition and which GVKs each one represents.
type catalog struct {
	scheme *runtime.Scheme
	// gvks maps a definition name ("io.k8s.api.apps.v1.Deployment") to the
	// kinds registered for it, sorted so the documents are reproducible.
	gvks map[string][]schema.GroupVersionKind
	// aliases maps the name of a definition we invent for a served version
	// that k8s.io/api lacks to the name of the definition it copies.
	aliases map[string]string
	// v2defs are the generated definitions with v2 references; they also
	// give the descriptions of query parameters.
	v2defs map[string]common.OpenAPIDefinition
}

func newCatalog(s *runtime.Scheme) *catalog {
	c := &catalog{scheme: s, gvks: map[string][]schema.GroupVersionKind{}, aliases: map[string]string{}}
	for gvk := range s.AllKnownTypes() {
		if gvk.Version == runtime.APIVersionInternal {
			continue
		}
		name, err := s.ToOpenAPIDefinitionName(gvk)
		if err != nil {
			continue // a type we cannot name has no definition either
		}
		c.gvks[name] = append(c.gvks[name], gvk)
	}
	for _, list := range c.gvks {
		sortGVKs(list)
	}
	c.v2defs = c.definitions(func(name string) spec.Ref {
		return spec.MustCreateRef("#/definitions/" + common.EscapeJsonPointer(name))
	})
	return c
}

func sortGVKs(list []schema.GroupVersionKind) {
	slices.SortFunc(list, func(a, b schema.GroupVersionKind) int {
		return strings.Compare(a.Group+"/"+a.Version+"/"+a.Kind, b.Group+"/"+b.Version+"/"+b.Kind)
	})
}

// definitions returns the generated definitions plus a copy of each aliased
// one. The copies get their own Extensions map because the builders write
// the GVK extension into it and the original must keep its own.
func (c *catalog) definitions(ref common.ReferenceCallback) map[string]common.OpenAPIDefinition {
	defs := GetOpenAPIDefinitions(ref)
	for alias, orig := range c.aliases {
		d := defs[orig]
		d.Schema.Extensions = maps.Clone(d.Schema.Extensions)
		defs[alias] = d
	}
	return defs
}

// definitionName is the builders' GetDefinitionName: generated names are
// already in the REST-friendly form, so only the GVK extension is added.
func (c *catalog) definitionName(name string) (string, spec.Extensions) {
	list := c.gvks[name]
	if len(list) == 0 {
		return name, nil
	}
	ext := make([]any, 0, len(list))
	for _, gvk := range list {
		ext = append(ext, gvkExtension(gvk))
	}
	return name, spec.Extensions{extGVK: ext}
}

func gvkExtension(gvk schema.GroupVersionKind) map[string]any {
	return map[string]any{"group": gvk.Group, "version": gvk.Version, "kind": gvk.Kind}
}

// model returns a sample the builders can name for gvk. When the scheme has
// no Go type for gvk it makes an alias of the newest version of the same
// group and kind that it does have.
func (c *catalog) model(gvk schema.GroupVersionKind) (any, error) {
	if obj, err := c.scheme.New(gvk); err == nil {
		return obj, nil
	}
	var best schema.GroupVersionKind
	for known := range c.scheme.AllKnownTypes() {
		if known.Group != gvk.Group || known.Kind != gvk.Kind || known.Version == runtime.APIVersionInternal {
			continue
		}
		if best.Empty() || version.CompareKubeAwareVersionStrings(known.Version, best.Version) > 0 {
			best = known
		}
	}
	if best.Empty() {
		return nil, fmt.Errorf("openapi: no type registered for %s", gvk)
	}
	orig, err := c.scheme.ToOpenAPIDefinitionName(best)
	if err != nil {
		return nil, err
	}
	// "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler" becomes
	// "io.k8s.api.autoscaling.v2beta2.HorizontalPodAutoscaler".
	prefix := strings.TrimSuffix(strings.TrimSuffix(orig, "."+gvk.Kind), "."+best.Version)
	alias := prefix + "." + gvk.Version + "." + gvk.Kind
	if _, ok := c.v2defs[orig]; !ok {
		return nil, fmt.Errorf("openapi: no definition %s to serve %s with", orig, gvk)
	}
	if _, done := c.aliases[alias]; !done {
		c.aliases[alias] = orig
		c.gvks[alias] = []schema.GroupVersionKind{gvk}
	}
	return namedModel(alias), nil
}

// mustNew is scheme.New for the few kinds every API server has (Scale,
// Binding, Eviction, TokenRequest, the connect options).
func (c *catalog) mustNew(gvk schema.GroupVersionKind) (any, error) {
	obj, err := c.scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return obj, nil
}

// optionParams turns the simple fields of an options type (ListOptions,
// PatchOptions, PodExecOptions, ...) into query parameters, with the field
// documentation as the parameter description. That keeps the parameters in
// step with what the server parses instead of a hand-kept list.
func (c *catalog) optionParams(model any, skip ...string) []param {
	def, ok := c.v2defs[util.GetCanonicalTypeName(model)]
	if !ok {
		return nil
	}
	var out []param
	for _, name := range slices.Sorted(maps.Keys(def.Schema.Properties)) {
		if name == "kind" || name == "apiVersion" || slices.Contains(skip, name) {
			continue
		}
		prop := def.Schema.Properties[name]
		t := prop.Type
		if len(t) == 1 && t[0] == "array" && prop.Items != nil && prop.Items.Schema != nil {
			t = prop.Items.Schema.Type // dryRun, command: repeated query parameters
			prop = *prop.Items.Schema
		}
		dataType := simpleType(t, prop.Format)
		if dataType == "" {
			continue // objects such as DeleteOptions.preconditions travel in the body
		}
		out = append(out, param{name: name, desc: def.Schema.Properties[name].Description,
			kind: common.QueryParameterKind, dataType: dataType})
	}
	return out
}

// simpleType maps an OpenAPI type and format to the Go-ish type name that
// common.OpenAPITypeFormat understands, or "" for non-scalar types.
func simpleType(t []string, format string) string {
	if len(t) != 1 {
		return ""
	}
	switch t[0] {
	case "string", "boolean", "number":
		return t[0]
	case "integer":
		if format == "int32" || format == "int64" {
			return format
		}
		return "integer"
	}
	return ""
}
