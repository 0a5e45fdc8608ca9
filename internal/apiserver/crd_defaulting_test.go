package apiserver_test

import (
	"context"
	"testing"
	"time"

	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"

	"skiff/internal/testserver"
)

// TestCustomResourceDefaultsOnRead: a default added to the schema shows on objects
// stored before it, on get and list, as Kubernetes defaults what it reads from
// storage.
func TestCustomResourceDefaultsOnRead(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	ext := apiextensionsclient.NewForConfigOrDie(srv.Config)
	crd := widgetsCRD(t)
	establish(t, ctx, ext, crd)
	widgets := dynamic.NewForConfigOrDie(srv.Config).Resource(widgetsGVR).Namespace("default")
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := widgets.Create(ctx, widget("old", map[string]interface{}{"size": "medium"}), metav1.CreateOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	patch := `[{"op":"add","path":"/spec/versions/0/schema/openAPIV3Schema/properties/spec/properties/shape","value":{"type":"string","default":"round"}}]`
	if _, err := ext.ApiextensionsV1().CustomResourceDefinitions().Patch(ctx, crd.Name, types.JSONPatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var got string
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		w, err := widgets.Get(ctx, "old", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		got, _, _ = unstructured.NestedString(w.Object, "spec", "shape")
		return got == "round", nil
	})
	if err != nil {
		t.Fatalf("spec.shape on read = %q, want the new default round: %v", got, err)
	}
	list, err := widgets.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	if got, _, _ := unstructured.NestedString(list.Items[0].Object, "spec", "shape"); got != "round" {
		t.Errorf("spec.shape in a list = %q, want round", got)
	}
}
