package apiextensions

import (
	"os"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"skiff/internal/resources"
)

// widgets is the test CRD as the API server serves it: names accepted.
func widgets(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	data, err := os.ReadFile("testdata/widgets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		t.Fatal(err)
	}
	crd.Status = Status(crd, nil)
	return crd
}

func widgetVersion(t *testing.T) *Version {
	t.Helper()
	vs, err := Versions(widgets(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d versions", len(vs))
	}
	return vs[0]
}

func object(t *testing.T, y string) *unstructured.Unstructured {
	t.Helper()
	// As the API server decodes it: JSON numbers without a fraction are int64.
	data, err := yaml.YAMLToJSON([]byte(y))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		t.Fatal(err)
	}
	return u
}

const w1 = `apiVersion: example.com/v1
kind: Widget
metadata: {name: w1, namespace: default}
spec:
  size: medium
  port: http
  extra: {anything: [1]}
  tags: [{name: a, value: b}]
`

func TestTypesKnowListMapKeys(t *testing.T) {
	v := widgetVersion(t)
	tv, err := v.Types.ObjectToTyped(object(t, w1))
	if err != nil {
		t.Fatal(err)
	}
	set, err := tv.ToFieldSet()
	if err != nil {
		t.Fatal(err)
	}
	if got := set.String(); !strings.Contains(got, `.spec.tags[name="a"]`) {
		t.Errorf("field set does not key spec.tags by name:\n%s", got)
	}
}

func TestPruneAndDefault(t *testing.T) {
	v := widgetVersion(t)
	u := object(t, w1+"  bogus: 1\nbogus: 2\n")
	unknown, err := v.Prune(u, false)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(unknown, ",") != "bogus,spec.bogus" && strings.Join(unknown, ",") != "spec.bogus,bogus" {
		t.Errorf("pruned %q, want bogus and spec.bogus", unknown)
	}
	v.Info.Strategy.Default(u)
	if got, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas"); got != 1 {
		t.Errorf("replicas defaulted to %d, want 1", got)
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "extra", "anything"); !ok {
		t.Error("preserve-unknown-fields subtree pruned")
	}
}

func TestValidateNamesTheField(t *testing.T) {
	v := widgetVersion(t)
	for _, tc := range []struct{ name, spec, field string }{
		{"enum", "{size: huge}", "spec.size"},
		{"maximum", "{size: small, replicas: 11}", "spec.replicas"},
		{"cel", "{size: small, replicas: 6}", "spec"},
		{"int-or-string", "{size: small, port: [1]}", "spec.port"},
	} {
		u := object(t, "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: x, namespace: default}\nspec: "+tc.spec+"\n")
		v.Info.Strategy.Default(u)
		errs := v.Info.Strategy.Validate(u, nil)
		if len(errs) == 0 || errs[0].Field != tc.field {
			t.Errorf("%s: errors %v, want one on %s", tc.name, errs, tc.field)
		}
	}
	old := object(t, w1)
	v.Info.Strategy.Default(old)
	shrunk := old.DeepCopy()
	_ = unstructured.SetNestedField(shrunk.Object, "small", "spec", "size")
	if errs := v.Info.Strategy.Validate(shrunk, old); len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), "cannot shrink") {
		t.Errorf("transition rule: %v", errs)
	}
}

func TestNameClashIsACondition(t *testing.T) {
	first := widgets(t)
	second := widgets(t)
	second.Name = "gadgets.example.com"
	second.Spec.Names.Plural, second.Spec.Names.Singular = "gadgets", "gadget"
	second.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
	st := Status(second, []*apiextensionsv1.CustomResourceDefinition{first})
	var accepted, established apiextensionsv1.CustomResourceDefinitionCondition
	for _, c := range st.Conditions {
		switch c.Type {
		case apiextensionsv1.NamesAccepted:
			accepted = c
		case apiextensionsv1.Established:
			established = c
		}
	}
	if accepted.Status != apiextensionsv1.ConditionFalse || !strings.HasSuffix(accepted.Reason, "Conflict") || !strings.Contains(accepted.Message, "is already in use") {
		t.Errorf("NamesAccepted = %+v, want a conflict", accepted)
	}
	if established.Status != apiextensionsv1.ConditionFalse {
		t.Errorf("Established = %+v, want False", established)
	}
	if st.AcceptedNames.Kind != "" {
		t.Errorf("clashing kind accepted: %+v", st.AcceptedNames)
	}
}

func TestWebhookConversionIsAccepted(t *testing.T) {
	crd := widgets(t)
	crd.Status = apiextensionsv1.CustomResourceDefinitionStatus{}
	info := crdInfo(t)
	crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{Strategy: apiextensionsv1.WebhookConverter,
		Webhook: &apiextensionsv1.WebhookConversion{ConversionReviewVersions: []string{"v1"}}}
	info.Strategy.Default(crd)
	if errs := info.Strategy.Validate(crd, nil); len(errs) == 0 || errs[0].Field != "spec.conversion.webhookClientConfig" {
		t.Errorf("webhook conversion without a client config: %v, want refused", errs)
	}
	crd.Spec.Conversion.Webhook.ClientConfig = &apiextensionsv1.WebhookClientConfig{URL: ptr("https://example.com/convert")}
	if errs := info.Strategy.Validate(crd, nil); len(errs) != 0 {
		t.Errorf("webhook conversion refused: %v", errs)
	}
	crd.Status = Status(crd, nil)
	if _, err := Versions(crd, nil); err == nil {
		t.Error("served a webhook-converted CRD without a converter factory")
	}
}

func ptr[T any](v T) *T { return &v }

func crdInfo(t *testing.T) *resources.Info {
	for _, i := range resources.All() {
		if i.Resource == "customresourcedefinitions" {
			return i
		}
	}
	t.Fatal("no customresourcedefinitions resource")
	return nil
}
