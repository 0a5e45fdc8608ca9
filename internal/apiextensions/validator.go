package apiextensions

import (
	"sync"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// schemaValidator is the library's schema validator (NewSchemaValidator), except
// that new objects are checked by a validator kept across calls. The library
// builds a kube-openapi validator for the root and for every property of every
// object it checks, on every call; that was a third of a custom object's create.
// Updates keep the library's ratcheting validator, which follows the old object.
type schemaValidator struct {
	apiservervalidation.SchemaValidator
	create *validate.SchemaValidator
}

func newSchemaValidator(s *apiextensionsinternal.JSONSchemaProps) (apiservervalidation.SchemaValidator, error) {
	lib, openapi, err := apiservervalidation.NewSchemaValidator(s)
	if err != nil {
		return nil, err
	}
	kept := &keptFields{schema: openapi, root: openapi, formats: strfmt.Default}
	return schemaValidator{SchemaValidator: lib, create: kept.validator()}, nil
}

// Validate checks a new object: the library takes no option on this path.
func (v schemaValidator) Validate(obj interface{}, _ ...apiservervalidation.ValidationOption) *validate.Result {
	return v.create.Validate(obj)
}

// keptFields makes the validator of one schema, whose properties' validators are
// built on first use and kept. kube-openapi's validators hold no state between
// calls (only what they were built from), so one serves every request. Values
// under additionalProperties and array items are keyed by data, not by the
// schema: theirs are built per call, as the library does.
type keptFields struct {
	schema  *spec.Schema
	root    interface{}
	path    string
	formats strfmt.Registry

	mu   sync.RWMutex
	kept map[string]validate.ValueValidator // by property name
}

func (k *keptFields) validator() *validate.SchemaValidator {
	return validate.NewSchemaValidator(k.schema, k.root, k.path, k.formats, func(o *validate.SchemaValidatorOptions) {
		o.NewValidatorForField = k.field
	})
}

func (k *keptFields) field(name string, s *spec.Schema, root interface{}, path string, formats strfmt.Registry, opts ...validate.Option) validate.ValueValidator {
	if len(k.schema.PatternProperties) == 0 {
		k.mu.RLock()
		v, ok := k.kept[name]
		k.mu.RUnlock()
		if ok {
			return v
		}
		if prop, ok := k.schema.Properties[name]; ok {
			return k.keep(name, prop, root, path, formats)
		}
	}
	return validate.NewSchemaValidator(s, root, path, formats, opts...)
}

// keep builds the validator of property name, unless another request just did.
func (k *keptFields) keep(name string, prop spec.Schema, root interface{}, path string, formats strfmt.Registry) validate.ValueValidator {
	k.mu.Lock()
	defer k.mu.Unlock()
	if v, ok := k.kept[name]; ok {
		return v
	}
	if k.kept == nil {
		k.kept = map[string]validate.ValueValidator{}
	}
	child := &keptFields{schema: &prop, root: root, path: path, formats: formats}
	k.kept[name] = child.validator()
	return k.kept[name]
}
