package apiextensions

import (
	"reflect"

	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/kube-openapi/pkg/validation/errors"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
)

// schemaValidator is the library's schema validator (NewSchemaValidator), except
// that new objects are checked by validators built once for the schema. The
// library builds a kube-openapi validator for the root and for every property of
// every object it checks, on every call, and kube-openapi copies each property's
// schema to the heap as it visits it; together that was half of what checking a
// custom object allocated. Updates keep the library's ratcheting validator,
// which follows the old object.
type schemaValidator struct {
	apiservervalidation.SchemaValidator
	create validate.ValueValidator
}

func newSchemaValidator(s *apiextensionsinternal.JSONSchemaProps) (apiservervalidation.SchemaValidator, error) {
	lib, openapi, err := apiservervalidation.NewSchemaValidator(s)
	if err != nil {
		return nil, err
	}
	return schemaValidator{SchemaValidator: lib, create: kept(openapi, openapi, "")}, nil
}

// Validate checks a new object: the library takes no option on this path.
func (v schemaValidator) Validate(obj interface{}, _ ...apiservervalidation.ValidationOption) *validate.Result {
	return v.create.Validate(obj)
}

// kept returns the validator of schema s at path. An object's properties are
// checked by validators built here, once; the rest of an object's keywords, and
// every other schema, by kube-openapi's validator, also built once: it holds no
// state between calls (only what it was built from), so one serves every request.
// Values under additionalProperties and array items are keyed by data, not by the
// schema: kube-openapi builds theirs per call, as the library does.
func kept(s, root *spec.Schema, path string) validate.ValueValidator {
	if len(s.Properties) == 0 || len(s.PatternProperties) > 0 || s.AdditionalProperties != nil {
		return validate.NewSchemaValidator(s, root, path, strfmt.Default)
	}
	own := *s
	own.Properties, own.Required = nil, nil
	o := &keptObject{own: validate.NewSchemaValidator(&own, root, path, strfmt.Default), path: path, required: s.Required}
	for name, prop := range s.Properties {
		// Named as kube-openapi names a property's path.
		p := name
		if path != "" {
			p = path + "." + name
		}
		o.properties = append(o.properties, keptProperty{name: name, validator: kept(&prop, root, p)})
	}
	return o
}

// keptObject checks an object schema with properties as kube-openapi's object
// validator does (each property present, then each required one missing), after
// the schema's other keywords.
type keptObject struct {
	own        *validate.SchemaValidator
	path       string
	required   []string
	properties []keptProperty
}

type keptProperty struct {
	name      string
	validator validate.ValueValidator
}

func (o *keptObject) Validate(data interface{}) *validate.Result {
	res := o.own.Validate(data)
	val, ok := data.(map[string]interface{})
	if !ok {
		return res // not an object: kube-openapi checks no property either
	}
	for _, p := range o.properties {
		if v, ok := val[p.name]; ok {
			res.Merge(p.validator.Validate(v))
		}
	}
	for _, k := range o.required {
		if _, ok := val[k]; !ok {
			res.AddErrors(errors.Required(o.path+"."+k, "body"))
		}
	}
	return res
}

// The rest of validate.ValueValidator: a kept validator is only ever asked to
// validate.
func (o *keptObject) SetPath(string)                         {}
func (o *keptObject) Applies(interface{}, reflect.Kind) bool { return true }
