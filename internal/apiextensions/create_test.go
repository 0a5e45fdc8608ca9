package apiextensions

import (
	"context"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TestCreateChecksAgreeWithTheLibrary checks new objects with createChecks and
// with the library's strategy, for a schema with list maps, with an embedded
// resource, and with neither: the errors must be the same.
func TestCreateChecksAgreeWithTheLibrary(t *testing.T) {
	specs := []string{
		"{size: medium, replicas: 2, tags: [{name: a, value: b}]}",
		"{size: medium, tags: [{name: a}, {name: a}]}", // duplicate list map key
		"{size: medium, replicas: 9, maxReplicas: 3}",  // CEL rule
		"{size: huge, replicas: 9, maxReplicas: 3}",    // enum: no CEL rule runs
		"{replicas: 2}", // required
		"{size: small, template: {kind: Pod, metadata: {name: 3}}}", // embedded resource
		"{size: small, template: {apiVersion: v1, kind: Pod, metadata: {}}}",
		"{size: small, port: [1], replicas: x}",
	}
	plain := widgets(t)
	specProps(plain, func(p map[string]apiextensionsv1.JSONSchemaProps) {
		tags := p["tags"]
		tags.XListType = ptr("atomic")
		p["tags"] = tags
	})
	embedded := widgets(t)
	specProps(embedded, func(p map[string]apiextensionsv1.JSONSchemaProps) {
		p["template"] = apiextensionsv1.JSONSchemaProps{Type: "object", XEmbeddedResource: true, XPreserveUnknownFields: ptr(true)}
	})
	for _, tc := range []struct {
		name                string
		crd                 *apiextensionsv1.CustomResourceDefinition
		embedded, listTypes bool
	}{
		{"list maps", widgets(t), false, true},
		{"embedded", embedded, true, true},
		{"plain", plain, false, false},
	} {
		vs, err := Versions(tc.crd, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := vs[0].Info.Strategy.(*strategy)
		if s.create.embedded != tc.embedded || s.create.listTypes != tc.listTypes {
			t.Errorf("%s: walks embedded %v, list types %v; want %v, %v", tc.name, s.create.embedded, s.create.listTypes, tc.embedded, tc.listTypes)
		}
		for _, spec := range specs {
			u := object(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x, namespace: default}\nspec: "+spec+"\n")
			want := sorted(s.main.Validate(context.Background(), u))
			if diff := cmp.Diff(want, sorted(s.create.validate(context.Background(), u))); diff != "" {
				t.Errorf("%s, spec %s: errors differ (-library +ours):\n%s", tc.name, spec, diff)
			}
		}
	}
}

// specProps changes the properties of the CRD's spec.
func specProps(crd *apiextensionsv1.CustomResourceDefinition, change func(map[string]apiextensionsv1.JSONSchemaProps)) {
	change(crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"].Properties)
}

func sorted(errs field.ErrorList) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	sort.Strings(out)
	return out
}
