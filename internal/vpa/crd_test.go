package vpa

import "testing"

// TestCRDs: the embedded definitions parse and name the kinds the seed applies.
func TestCRDs(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, c := range crds {
		kinds[c.Spec.Names.Kind] = len(c.Spec.Versions[0].AdditionalPrinterColumns)
		if c.Spec.Versions[0].Schema == nil || c.Spec.Versions[0].Schema.OpenAPIV3Schema == nil {
			t.Errorf("%s has no schema", c.Name)
		}
	}
	if kinds["VerticalPodAutoscaler"] != 5 || kinds["VerticalPodAutoscalerCheckpoint"] == 0 {
		t.Errorf("kinds and their printer columns: %v", kinds)
	}
}
