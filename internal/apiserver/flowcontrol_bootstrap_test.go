package apiserver

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apiserver/pkg/storage"
	fcrequest "k8s.io/apiserver/pkg/util/flowcontrol/request"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/utils/ptr"

	"skiff/internal/auth"
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

// BenchmarkFlowControlFilter measures what priority and fairness adds to a request
// (a ConfigMap create) in front of a handler that does nothing, for the admin
// (exempt) and for a user classified into global-default.
func BenchmarkFlowControlFilter(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := fake.NewClientset()
	// Objects are named by their UIDs, which the filter's headers carry.
	c.PrependReactor("create", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
		if m, err := meta.Accessor(a.(k8stesting.CreateAction).GetObject()); err == nil {
			m.SetUID(types.UID(m.GetName()))
		}
		return false, nil, nil
	})
	if err := ensureFlowControlObjects(ctx, c.FlowcontrolV1()); err != nil {
		b.Fatal(err)
	}
	noCounts := func(string) (storage.Stats, error) { return storage.Stats{}, fcrequest.ObjectCountNotFoundErr }
	f := newFlowControl(c, 600, noCounts, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	f.informers.Start(ctx.Done())
	go func() { _ = f.ctl.Run(ctx.Done()) }()
	// The request and recorder alone, for comparison.
	b.Run("no-filter", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(http.MethodPost, "/api/v1/namespaces/default/configmaps", nil)
			http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}).ServeHTTP(httptest.NewRecorder(), r)
		}
	})
	for schema, u := range map[string]*auth.User{
		"exempt":         {Name: "admin", Groups: []string{auth.Masters, auth.Authenticated}},
		"global-default": {Name: "someone", Groups: []string{auth.Authenticated}},
	} {
		serve := func() *httptest.ResponseRecorder {
			r := httptest.NewRequest(http.MethodPost, "/api/v1/namespaces/default/configmaps", nil)
			w := httptest.NewRecorder()
			f.serve(w, r.WithContext(auth.WithUser(r.Context(), u)), u)
			return w
		}
		for deadline := time.Now().Add(10 * time.Second); serve().Header().Get(flowcontrolv1.ResponseHeaderMatchedFlowSchemaUID) != schema; {
			if time.Now().After(deadline) {
				b.Fatal("the bootstrap configuration was not digested")
			}
			time.Sleep(10 * time.Millisecond)
		}
		b.Run(u.Name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				serve()
			}
		})
	}
}
