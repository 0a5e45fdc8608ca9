package apiserver

import (
	"context"
	"testing"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"
)

func TestBootstrapConfigIsKeptAsKubernetesKeepsIt(t *testing.T) {
	ctx := context.Background()
	c := fake.NewClientset()
	fc := c.FlowcontrolV1()
	if err := ensureFlowControlObjects(ctx, fc); err != nil {
		t.Fatal(err)
	}
	// A second pass over an unchanged cluster writes nothing.
	c.ClearActions()
	if err := ensureFlowControlObjects(ctx, fc); err != nil {
		t.Fatal(err)
	}
	for _, a := range c.Actions() {
		if a.GetVerb() != "list" {
			t.Errorf("second pass: %s %s, want only lists", a.GetVerb(), a.GetResource().Resource)
		}
	}

	set := func(name string, annotation string, shares int32) {
		pl, err := fc.PriorityLevelConfigurations().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		pl.Annotations[flowcontrolv1.AutoUpdateAnnotationKey] = annotation
		pl.Spec.Limited.NominalConcurrencyShares = ptr.To(shares)
		pl.Generation = 2
		if _, err := fc.PriorityLevelConfigurations().Update(ctx, pl, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	set("workload-low", "false", 7)   // the operator keeps a suggested level as changed
	set("workload-high", "true", 7)   // a suggested level still following the bootstrap spec
	set("catch-all", "false", 7)      // a mandatory level always follows it
	set("global-default", "bogus", 7) // no valid annotation, changed since created: kept
	if err := fc.FlowSchemas().Delete(ctx, "service-accounts", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// An object once bootstrap's, no longer in the set, is removed; a user's stays.
	for name, annotations := range map[string]map[string]string{
		"retired": {flowcontrolv1.AutoUpdateAnnotationKey: "true"}, "mine": nil} {
		if _, err := fc.FlowSchemas().Create(ctx, &flowcontrolv1.FlowSchema{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
			Spec: flowcontrolv1.FlowSchemaSpec{PriorityLevelConfiguration: flowcontrolv1.PriorityLevelConfigurationReference{Name: "global-default"}}},
			metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := ensureFlowControlObjects(ctx, fc); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int32{"workload-low": 7, "workload-high": 40, "catch-all": 5, "global-default": 7} {
		pl, err := fc.PriorityLevelConfigurations().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := *pl.Spec.Limited.NominalConcurrencyShares; got != want {
			t.Errorf("%s: nominalConcurrencyShares %d, want %d", name, got, want)
		}
	}
	if pl, _ := fc.PriorityLevelConfigurations().Get(ctx, "catch-all", metav1.GetOptions{}); pl.Annotations[flowcontrolv1.AutoUpdateAnnotationKey] != "true" {
		t.Errorf("catch-all annotations %v, want autoupdate-spec true again", pl.Annotations)
	}
	if pl, _ := fc.PriorityLevelConfigurations().Get(ctx, "global-default", metav1.GetOptions{}); pl.Annotations[flowcontrolv1.AutoUpdateAnnotationKey] != "false" {
		t.Errorf("global-default annotations %v, want autoupdate-spec false recorded", pl.Annotations)
	}
	if _, err := fc.FlowSchemas().Get(ctx, "service-accounts", metav1.GetOptions{}); err != nil {
		t.Errorf("deleted suggested FlowSchema: %v, want it created again", err)
	}
	if _, err := fc.FlowSchemas().Get(ctx, "retired", metav1.GetOptions{}); err == nil {
		t.Error("a FlowSchema annotated as bootstrap's but not in the set was kept")
	}
	if _, err := fc.FlowSchemas().Get(ctx, "mine", metav1.GetOptions{}); err != nil {
		t.Errorf("a user's FlowSchema: %v, want it kept", err)
	}
}
