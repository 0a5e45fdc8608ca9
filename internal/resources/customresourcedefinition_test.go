package resources

import (
	"slices"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Moving the storage version to a new version records it in storedVersions, so the
// update validates (storedVersions must hold the storage version).
func TestCRDStorageVersionChange(t *testing.T) {
	schema := &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{Type: "object"}}
	old := &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "widgets.example.com", ResourceVersion: "1"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "example.com", Scope: apiextensionsv1.NamespaceScoped,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: "widgets", Singular: "widget", Kind: "Widget", ListKind: "WidgetList"},
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{
				{Name: "v1", Served: true, Storage: true, Schema: schema},
				{Name: "v2", Served: true, Schema: schema},
			},
		},
	}
	s := crdStrategy{}
	s.Default(old)
	s.PrepareForCreate(old)
	if errs := s.Validate(old, nil); len(errs) > 0 {
		t.Fatal(errs)
	}
	crd := old.DeepCopy()
	crd.Spec.Versions[0].Storage, crd.Spec.Versions[1].Storage = false, true
	s.PrepareForUpdate(crd, old, "")
	if got := crd.Status.StoredVersions; !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("storedVersions = %v, want [v1 v2]", got)
	}
	if errs := s.Validate(crd, old); len(errs) > 0 {
		t.Errorf("update refused: %v", errs)
	}
}
