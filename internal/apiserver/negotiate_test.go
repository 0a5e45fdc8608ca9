package apiserver

import (
	"bytes"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/resources"
)

// A custom object is written in one encoding pass; the bytes must be the JSON
// serializer's, version stamping included.
func TestEncodeUnstructuredAsTheSerializerDoes(t *testing.T) {
	obj := &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]interface{}{"name": "w", "labels": map[string]interface{}{"a": "<b>&"}},
		"spec":     map[string]interface{}{"n": int64(3), "f": 1.5e-7, "big": 1e21, "list": []interface{}{"\u2028", nil, true}},
	}}
	json, _ := serializerFor(runtime.ContentTypeJSON)
	proto, _ := serializerFor(runtime.ContentTypeProtobuf)
	for _, gv := range []schema.GroupVersion{{Group: "example.com", Version: "v1"}, {Group: "example.com", Version: "v2"}} {
		for _, out := range []output{{info: json}, {info: proto}} {
			got, err := encode(out, gv, obj)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			enc := runtime.WithVersionEncoder{Version: gv, Encoder: json.Serializer, ObjectTyper: resources.Scheme}
			if err := enc.Encode(obj, &want); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want.Bytes()) {
				t.Errorf("%s as %s:\n got %s\nwant %s", gv, out.info.MediaType, got, want.Bytes())
			}
		}
	}
	if obj.GetAPIVersion() != "example.com/v1" {
		t.Errorf("encoding changed the object's apiVersion to %s", obj.GetAPIVersion())
	}
}
