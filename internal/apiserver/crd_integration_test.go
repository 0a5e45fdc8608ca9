package apiserver_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"skiff/internal/testserver"
)

var widgetsGVR = schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "widgets"}

func widgetsCRD(t testing.TB) *apiextensionsv1.CustomResourceDefinition {
	data, err := os.ReadFile("../apiextensions/testdata/widgets.yaml")
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		t.Fatal(err)
	}
	return crd
}

func widget(name string, spec map[string]interface{}) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]interface{}{
		"apiVersion": "example.com/v1", "kind": "Widget",
		"metadata": map[string]interface{}{"name": name}, "spec": spec,
	}}
}

// establish creates the CRD and waits until its objects are served.
func establish(t testing.TB, ctx context.Context, ext apiextensionsclient.Interface, crd *apiextensionsv1.CustomResourceDefinition) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var got *apiextensionsv1.CustomResourceDefinition
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		got, err = ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range got.Status.Conditions {
			if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("CRD %s not established: %v (status %+v)", crd.Name, err, got.Status)
	}
	return got
}

func TestCustomResourceLifecycle(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	ext := apiextensionsclient.NewForConfigOrDie(srv.Config)
	dyn := dynamic.NewForConfigOrDie(srv.Config)
	crd := establish(t, ctx, ext, widgetsCRD(t))
	if crd.Status.AcceptedNames.Kind != "Widget" || strings.Join(crd.Status.StoredVersions, ",") != "v1" {
		t.Fatalf("status = %+v", crd.Status)
	}
	widgets := dyn.Resource(widgetsGVR).Namespace("default")
	var w *unstructured.Unstructured
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		w, err = widgets.Create(ctx, widget("w1", map[string]interface{}{"size": "medium", "bogus": 1}), metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got, _, _ := unstructured.NestedInt64(w.Object, "spec", "replicas"); got != 1 {
		t.Errorf("default replicas = %d, want 1", got)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(w.Object, "spec", "bogus"); found {
		t.Errorf("unknown field spec.bogus was kept: %v", w.Object["spec"])
	}
	if w.GetGeneration() != 1 {
		t.Errorf("generation = %d", w.GetGeneration())
	}

	// Each rule of the schema refuses with a 422 naming the field.
	for _, tc := range []struct {
		name  string
		spec  map[string]interface{}
		field string
	}{
		{"enum", map[string]interface{}{"size": "huge"}, "spec.size"},
		{"maximum", map[string]interface{}{"size": "small", "replicas": 11}, "spec.replicas"},
		{"pattern", map[string]interface{}{"size": "small", "color": "Red1"}, "spec.color"},
		{"required", map[string]interface{}{"replicas": 1}, "spec.size"},
		{"cel", map[string]interface{}{"size": "small", "replicas": 6}, "spec"},
		{"type", map[string]interface{}{"size": 3}, "spec.size"},
	} {
		_, err := widgets.Create(ctx, widget("bad-"+tc.name, tc.spec), metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: err = %v, want 422", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: %v does not name %s", tc.name, err, tc.field)
		}
		if _, err := widgets.Get(ctx, "bad-"+tc.name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("%s: refused object was stored (%v)", tc.name, err)
		}
	}

	// Transition rule: medium -> small is refused, medium -> large accepted.
	patch := func(body string) error {
		_, err := widgets.Patch(ctx, "w1", types.MergePatchType, []byte(body), metav1.PatchOptions{})
		return err
	}
	if err := patch(`{"spec":{"size":"small"}}`); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "cannot shrink") {
		t.Errorf("transition rule: %v", err)
	}
	if err := patch(`{"spec":{"size":"large"}}`); err != nil {
		t.Errorf("allowed change refused: %v", err)
	}
	if _, err := widgets.Patch(ctx, "w1", types.StrategicMergePatchType, []byte(`{"spec":{"size":"large"}}`), metav1.PatchOptions{}); !apierrors.IsUnsupportedMediaType(err) {
		t.Errorf("strategic merge patch: %v, want 415", err)
	}

	// Status and scale subresources.
	if _, err := widgets.Patch(ctx, "w1", types.MergePatchType, []byte(`{"status":{"ready":true,"replicas":2}}`), metav1.PatchOptions{}, "status"); err != nil {
		t.Fatalf("status patch: %v", err)
	}
	if _, err := widgets.Patch(ctx, "w1", types.MergePatchType, []byte(`{"spec":{"replicas":3}}`), metav1.PatchOptions{}, "scale"); err != nil {
		t.Fatalf("scale patch: %v", err)
	}
	w, err = widgets.Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready, _, _ := unstructured.NestedBool(w.Object, "status", "ready")
	replicas, _, _ := unstructured.NestedInt64(w.Object, "spec", "replicas")
	if !ready || replicas != 3 {
		t.Errorf("after status and scale: ready=%v replicas=%d", ready, replicas)
	}

	// Deleting the CRD deletes its objects first; a finalizer holds one back, and
	// no new object may come meanwhile.
	if _, err := widgets.Patch(ctx, "w1", types.MergePatchType, []byte(`{"metadata":{"finalizers":["example.com/hold"]}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := ext.ApiextensionsV1().CustomResourceDefinitions().Delete(ctx, crd.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		w, err := widgets.Get(ctx, "w1", metav1.GetOptions{})
		return err == nil && w.GetDeletionTimestamp() != nil, nil
	})
	if err != nil {
		t.Fatalf("w1 not marked for deletion: %v", err)
	}
	if _, err := widgets.Create(ctx, widget("late", map[string]interface{}{"size": "small"}), metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("create while the CRD terminates: %v, want 403", err)
	}
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("CRD gone while an object remains: %v", err)
	}
	if _, err := widgets.Patch(ctx, "w1", types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("CRD not deleted: %v", err)
	}
	if _, err := widgets.Get(ctx, "w1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("widget after CRD deletion: %v", err)
	}
}

// Two versions with conversion None: written as one, read back as the other, stored
// once; cluster-scoped; a clashing CRD is refused with a condition, not served.
func TestCustomResourceVersionsAndNameClash(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	ext := apiextensionsclient.NewForConfigOrDie(srv.Config)
	dyn := dynamic.NewForConfigOrDie(srv.Config)
	crd := widgetsCRD(t)
	crd.Spec.Scope = apiextensionsv1.ClusterScoped
	beta := *crd.Spec.Versions[0].DeepCopy()
	beta.Name, beta.Storage = "v1beta1", false
	crd.Spec.Versions = append(crd.Spec.Versions, beta)
	establish(t, ctx, ext, crd)

	betaGVR := widgetsGVR.GroupVersion().WithResource("widgets")
	betaGVR.Version = "v1beta1"
	w := widget("w1", map[string]interface{}{"size": "small"})
	w.SetAPIVersion("example.com/v1beta1")
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := dyn.Resource(betaGVR).Create(ctx, w, metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("create as v1beta1: %v", err)
	}
	got, err := dyn.Resource(widgetsGVR).Get(ctx, "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.GetAPIVersion() != "example.com/v1" || got.GetNamespace() != "" {
		t.Errorf("read as v1: apiVersion %s namespace %q", got.GetAPIVersion(), got.GetNamespace())
	}
	list, err := dyn.Resource(betaGVR).List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=w1"})
	if err != nil || len(list.Items) != 1 || list.Items[0].GetAPIVersion() != "example.com/v1beta1" {
		t.Fatalf("list as v1beta1: %v %+v", err, list)
	}

	clash := widgetsCRD(t)
	clash.Name = "gizmos.example.com"
	clash.Spec.Names.Plural, clash.Spec.Names.Singular = "gizmos", "gizmo"
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, clash, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		c, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, clash.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range c.Status.Conditions {
			if cond.Type == apiextensionsv1.NamesAccepted && cond.Status == apiextensionsv1.ConditionFalse && strings.Contains(cond.Message, "is already in use") {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("clashing CRD has no NamesAccepted=False condition: %v", err)
	}
	if _, err := dyn.Resource(schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "gizmos"}).List(ctx, metav1.ListOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("clashing CRD served: %v", err)
	}
}

// Custom objects share the store's list paging, label selectors, watch and
// resourceVersion conflicts with built-in kinds.
func TestCustomResourceListWatchConflicts(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	establish(t, ctx, apiextensionsclient.NewForConfigOrDie(srv.Config), widgetsCRD(t))
	widgets := dynamic.NewForConfigOrDie(srv.Config).Resource(widgetsGVR).Namespace("default")
	w, err := widgets.Watch(ctx, metav1.ListOptions{LabelSelector: "team=a"})
	for i := 0; err != nil && i < 50; i++ {
		time.Sleep(100 * time.Millisecond)
		w, err = widgets.Watch(ctx, metav1.ListOptions{LabelSelector: "team=a"})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for i, team := range []string{"a", "b", "a", "a"} {
		o := widget(fmt.Sprintf("w%d", i), map[string]interface{}{"size": "small"})
		o.SetLabels(map[string]string{"team": team})
		if _, err := widgets.Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	for len(seen) < 3 {
		select {
		case ev := <-w.ResultChan():
			seen = append(seen, fmt.Sprintf("%s %s", ev.Type, ev.Object.(*unstructured.Unstructured).GetName()))
		case <-time.After(5 * time.Second):
			t.Fatalf("watch saw only %v", seen)
		}
	}
	if strings.Join(seen, ",") != "ADDED w0,ADDED w2,ADDED w3" {
		t.Errorf("watch with team=a saw %v", seen)
	}
	page, err := widgets.List(ctx, metav1.ListOptions{Limit: 2, LabelSelector: "team=a"})
	if err != nil || len(page.Items) != 2 || page.GetContinue() == "" {
		t.Fatalf("first page: %v %d items, continue %q", err, len(page.Items), page.GetContinue())
	}
	rest, err := widgets.List(ctx, metav1.ListOptions{Limit: 2, LabelSelector: "team=a", Continue: page.GetContinue()})
	if err != nil || len(rest.Items) != 1 || rest.Items[0].GetName() != "w3" {
		t.Fatalf("second page: %v %+v", err, rest.Items)
	}
	stale := page.Items[0].DeepCopy()
	if _, err := widgets.Update(ctx, page.Items[0].DeepCopy(), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_ = unstructured.SetNestedField(stale.Object, "large", "spec", "size")
	if _, err := widgets.Update(ctx, stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) && err != nil {
		t.Errorf("update from a stale resourceVersion: %v, want 409", err)
	}
	// The CRD's selectableFields join metadata.name and metadata.namespace.
	small, err := widgets.List(ctx, metav1.ListOptions{FieldSelector: "spec.size=small,metadata.name!=w0"})
	if err != nil || len(small.Items) != 3 {
		t.Fatalf("field selector on spec.size: %v, %d items", err, len(small.Items))
	}
	if _, err := widgets.List(ctx, metav1.ListOptions{FieldSelector: "spec.color=blue"}); !apierrors.IsBadRequest(err) {
		t.Errorf("field selector on a field not selectable: %v, want 400", err)
	}
	if err := widgets.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: "team=b"}); err != nil {
		t.Fatal(err)
	}
	left, _ := widgets.List(ctx, metav1.ListOptions{})
	if len(left.Items) != 3 {
		t.Errorf("after deletecollection team=b: %d widgets, want 3", len(left.Items))
	}
}
