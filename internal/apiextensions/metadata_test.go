package apiextensions

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
)

// TestCoerceRootAgreesWithTheLibrary coerces objects with coerceRoot and with the
// library at the root: objects, errors and unknown fields must be the same, on
// both paths (plain metadata, and everything else).
func TestCoerceRootAgreesWithTheLibrary(t *testing.T) {
	internal := &apiextensionsinternal.JSONSchemaProps{Type: "object", Properties: map[string]apiextensionsinternal.JSONSchemaProps{
		"spec": {Type: "object", Properties: map[string]apiextensionsinternal.JSONSchemaProps{
			"template": {Type: "object", XEmbeddedResource: true, XPreserveUnknownFields: ptr(true)},
			"size":     {Type: "string"},
		}},
	}}
	withEmbedded, err := structuralOf(internal)
	if err != nil {
		t.Fatal(err)
	}
	delete(internal.Properties["spec"].Properties, "template")
	without, err := structuralOf(internal)
	if err != nil {
		t.Fatal(err)
	}
	schemas := []struct {
		s        *structuralschema.Structural
		embedded bool
	}{{withEmbedded, true}, {without, false}}
	for _, tc := range []struct {
		obj   string
		plain bool
	}{
		{`{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a"}}`, true},
		{`{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "a", "namespace": "b", "generateName": "c-", "labels": {"x": "y", "": ""}, "annotations": {"k": "<v>"}}, "spec": {"size": "s"}}`, true},
		{`{"kind": "Widget"}`, true},
		{`{"metadata": {"name": "a"}, "spec": {"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "bogus": 1, "labels": {"a": 2}}}}}`, true},
		{`{"metadata": {}}`, true},
		{`{"metadata": null}`, false},
		{`{"metadata": "x"}`, false},
		{`{"metadata": {"name": ""}}`, false},
		{`{"metadata": {"labels": {}}}`, false},
		{`{"metadata": {"labels": {"a": 1}}}`, false},
		{`{"metadata": {"labels": null}}`, false},
		{`{"metadata": {"name": 3}}`, false},
		{`{"metadata": {"Name": "a"}}`, false},
		{`{"metadata": {"name": "a", "bogus": {"x": 1}}}`, false},
		{`{"metadata": {"name": "a", "creationTimestamp": "2020-01-01T00:00:00Z", "uid": "u", "resourceVersion": "5", "generation": 2}}`, false},
		{`{"metadata": {"name": "a", "finalizers": ["f"], "ownerReferences": [{"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u"}]}}`, false},
		{`{"apiVersion": 3, "metadata": {"name": "a"}}`, false},
		{`{"kind": null, "metadata": {"name": "a"}}`, false},
	} {
		for _, sc := range schemas {
			for _, strict := range []bool{true, false} {
				opts := objectmeta.CoerceOptions{DropInvalidFields: !strict, ReturnUnknownFieldPaths: true}
				lib, ours := decodeJSON(t, tc.obj), decodeJSON(t, tc.obj)
				if got := plainTypeMeta(ours) && plainMeta(ours); got != tc.plain {
					t.Errorf("%s: plain %v, want %v", tc.obj, got, tc.plain)
				}
				libErr, libUnknown := objectmeta.CoerceWithOptions(nil, lib, sc.s, true, opts)
				err, unknown := coerceRoot(ours, sc.s, sc.embedded, opts)
				if fmt.Sprint(err) != fmt.Sprint(libErr) {
					t.Errorf("%s embedded=%v strict=%v: error %v, library %v", tc.obj, sc.embedded, strict, err, libErr)
				}
				if diff := cmp.Diff(libUnknown, unknown); diff != "" {
					t.Errorf("%s embedded=%v strict=%v: unknown fields differ (-library +ours):\n%s", tc.obj, sc.embedded, strict, diff)
				}
				if diff := cmp.Diff(lib, ours); diff != "" {
					t.Errorf("%s embedded=%v strict=%v: objects differ (-library +ours):\n%s", tc.obj, sc.embedded, strict, diff)
				}
			}
		}
	}
	// Strings JSON would change: invalid UTF-8 is replaced.
	for _, meta := range []map[string]interface{}{
		{"name": "a\xff"},
		{"labels": map[string]interface{}{"a\xff": "b"}},
		{"annotations": map[string]interface{}{"a": "b\xff"}},
	} {
		obj := map[string]interface{}{"metadata": meta}
		if plainMeta(obj) {
			t.Errorf("%q is plain metadata", meta)
		}
		lib := runtime.DeepCopyJSON(obj)
		libErr, _ := objectmeta.CoerceWithOptions(nil, lib, without, true, objectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
		err, _ := coerceRoot(obj, without, false, objectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
		if fmt.Sprint(err) != fmt.Sprint(libErr) || !cmp.Equal(lib, obj) {
			t.Errorf("%q: got %v %v, library %v %v", meta, obj, err, lib, libErr)
		}
	}
}

// decodeJSON decodes as the API server does: integers are int64.
func decodeJSON(t *testing.T, s string) map[string]interface{} {
	t.Helper()
	var out map[string]interface{}
	if err := utiljson.Unmarshal([]byte(s), &out); err != nil {
		t.Fatal(err)
	}
	return out
}
