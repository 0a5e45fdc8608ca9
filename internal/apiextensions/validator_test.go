package apiextensions

import (
	"fmt"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsinternal "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"
)

// messages are a result's errors, sorted: kube-openapi visits map keys in any order.
func messages(r *validate.Result) []string {
	var out []string
	for _, e := range r.Errors {
		out = append(out, e.Error())
	}
	sort.Strings(out)
	return out
}

// TestKeptValidatorAgreesWithTheLibrary checks new objects with the kept
// validator and the library's, many times over from several goroutines (the
// kept validators serve every request at once): the errors must be the same.
func TestKeptValidatorAgreesWithTheLibrary(t *testing.T) {
	internal, err := internalSchema(widgets(t).Spec.Versions[0].Schema)
	if err != nil {
		t.Fatal(err)
	}
	// Values under additionalProperties are checked too.
	status := internal.Properties["status"]
	status.Properties["conditions"] = apiextensionsinternal.JSONSchemaProps{Type: "object",
		AdditionalProperties: &apiextensionsinternal.JSONSchemaPropsOrBool{Allows: true, Schema: &apiextensionsinternal.JSONSchemaProps{Type: "integer", Minimum: ptr(0.0)}}}
	// A nested object with required properties, and an object whose anyOf
	// branches name properties of their own.
	status.Properties["limits"] = apiextensionsinternal.JSONSchemaProps{Type: "object", Required: []string{"cpu"}, MaxProperties: ptr(int64(2)),
		Properties: map[string]apiextensionsinternal.JSONSchemaProps{"cpu": {Type: "integer"}, "memory": {Type: "string", MinLength: ptr(int64(2))}}}
	internal.Properties["status"] = status
	spec := internal.Properties["spec"]
	spec.AnyOf = []apiextensionsinternal.JSONSchemaProps{{Properties: map[string]apiextensionsinternal.JSONSchemaProps{"size": {MinLength: ptr(int64(6))}}}, {Required: []string{"color"}}}
	internal.Properties["spec"] = spec
	internal.Required = []string{"spec"}
	kept, err := newSchemaValidator(internal)
	if err != nil {
		t.Fatal(err)
	}
	lib, _, err := apiservervalidation.NewSchemaValidator(internal)
	if err != nil {
		t.Fatal(err)
	}
	specs := []string{
		"{size: medium, replicas: 2, color: red, tags: [{name: a, value: b}]}",
		"{size: huge, replicas: 11, color: Red1}",
		"{replicas: -1, tags: [{value: b}, {name: 3}], port: [1]}",
		"{size: small, extra: {x: {y: 1}}}",
		"{size: 7, color: 8}",
		"{size: medium}",
		"{size: medium, color: blue}",
		"null",
		"5",
	}
	statuses := []string{"{}", "{ready: yes, replicas: x}", "{conditions: {a: 1, b: -2, c: z}}",
		"{limits: {memory: x}}", "{limits: {cpu: 1, memory: xy, gpu: 1}}", "{limits: 3}", "{limits: null}", "null", "[1]"}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				for _, spec := range specs {
					for _, st := range statuses {
						u := object(t, fmt.Sprintf("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\nspec: %s\nstatus: %s\n", spec, st))
						want := messages(lib.Validate(u.Object))
						if diff := cmp.Diff(want, messages(kept.Validate(u.Object))); diff != "" {
							t.Errorf("spec %s, status %s: errors differ (-library +kept):\n%s", spec, st, diff)
							return
						}
						if i == 0 && g == 0 && spec == specs[1] && len(want) < 3 {
							t.Errorf("spec %s: %d errors, want one per bad field", spec, len(want))
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	u := object(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x}\n")
	if diff := cmp.Diff(messages(lib.Validate(u.Object)), messages(kept.Validate(u.Object))); diff != "" {
		t.Errorf("no spec: errors differ (-library +kept):\n%s", diff)
	}
}

func TestHasDefaults(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		want bool
	}{
		{"none", "{type: object, properties: {a: {type: string}, b: {type: array, items: {type: integer}}}}", false},
		{"property", "{type: object, properties: {a: {type: object, properties: {b: {type: string, default: x}}}}}", true},
		{"item", "{type: object, properties: {a: {type: array, items: {type: object, properties: {b: {type: integer, default: 1}}}}}}", true},
		{"additionalProperties", "{type: object, properties: {a: {type: object, additionalProperties: {type: string, default: x}}}}", true},
	} {
		crd := widgets(t)
		v := &crd.Spec.Versions[0]
		v.Subresources, v.AdditionalPrinterColumns, v.SelectableFields, v.Schema.OpenAPIV3Schema = nil, nil, nil, nil
		if err := yamlInto(tc.yaml, &v.Schema.OpenAPIV3Schema); err != nil {
			t.Fatal(err)
		}
		conv, err := (*Conversions)(nil).converter(crd)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := conv.defaulted["example.com/v1"]; got != tc.want {
			t.Errorf("%s: has defaults %v, want %v", tc.name, got, tc.want)
		}
	}
}

func yamlInto(y string, out interface{}) error { return yaml.UnmarshalStrict([]byte(y), out) }
