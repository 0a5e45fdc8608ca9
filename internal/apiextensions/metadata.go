package apiextensions

import (
	"unicode/utf8"

	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// coerceRoot is the library's objectmeta.CoerceWithOptions at an object's root:
// apiVersion and kind must be strings, metadata becomes what an ObjectMeta holds
// (unknown fields dropped and reported), and embedded resources below are
// coerced the same way.
//
// The library turns the root metadata into an ObjectMeta and back through JSON,
// a fifth of a custom object's decoding. That round trip changes nothing when
// metadata holds only non-empty name, generateName, namespace, labels and
// annotations of valid UTF-8 strings, as a new object's usually does, so then
// the library coerces the rest of the object without it; and when the schema
// has no embedded resource (embedded is false) there is nothing else to coerce.
func coerceRoot(obj map[string]interface{}, s *structuralschema.Structural, embedded bool, opts objectmeta.CoerceOptions) (*field.Error, []string) {
	if (s == nil || !s.XEmbeddedResource) && plainTypeMeta(obj) && plainMeta(obj) {
		if !embedded {
			return nil, nil
		}
		return objectmeta.CoerceWithOptions(nil, obj, s, false, opts)
	}
	return objectmeta.CoerceWithOptions(nil, obj, s, true, opts)
}

func plainTypeMeta(obj map[string]interface{}) bool {
	for _, k := range []string{"apiVersion", "kind"} {
		if v, ok := obj[k]; ok {
			if _, ok := v.(string); !ok {
				return false
			}
		}
	}
	return true
}

// plainMeta reports metadata that an ObjectMeta round trip leaves as it is
// (none at all, too; but a null one would become empty).
func plainMeta(obj map[string]interface{}) bool {
	m, found := obj["metadata"]
	if !found {
		return true
	}
	meta, ok := m.(map[string]interface{})
	if !ok {
		return false
	}
	for k, v := range meta {
		switch k {
		case "name", "generateName", "namespace":
			if !plainString(v) {
				return false
			}
		case "labels", "annotations":
			if !plainStringMap(v) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// plainString is a string that JSON keeps as it is and omitempty keeps at all.
func plainString(v interface{}) bool {
	s, ok := v.(string)
	return ok && s != "" && utf8.ValidString(s)
}

func plainStringMap(v interface{}) bool {
	m, ok := v.(map[string]interface{})
	if !ok || len(m) == 0 {
		return false
	}
	for k, v := range m {
		s, ok := v.(string)
		if !ok || !utf8.ValidString(k) || !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
