package apiserver_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"skiff/internal/testserver"
)

// gearsCRD has v1 (spec.size, a decimal string; the storage version) and v2
// (spec.replicas, an integer), converted by the webhook at url.
func gearsCRD(t *testing.T, url string, caBundle []byte) *apiextensionsv1.CustomResourceDefinition {
	crd := &apiextensionsv1.CustomResourceDefinition{}
	err := yaml.UnmarshalStrict([]byte(`
metadata: {name: gears.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gears, singular: gear, kind: Gear, listKind: GearList}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: string}}}}}}
    selectableFields: [{jsonPath: .spec.size}]
  - name: v2
    served: true
    storage: false
    additionalPrinterColumns: [{name: Replicas, type: integer, jsonPath: .spec.replicas}]
    schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {replicas: {type: integer, maximum: 9}}}}}}
    selectableFields: [{jsonPath: .spec.replicas}]
  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: [v1]
`), crd)
	if err != nil {
		t.Fatal(err)
	}
	crd.Spec.Conversion.Webhook.ClientConfig = &apiextensionsv1.WebhookClientConfig{URL: &url, CABundle: caBundle}
	return crd
}

// convertGears is the test's conversion webhook: spec.size "N" in v1 is
// spec.replicas N in v2. It also adds a field no schema has, which the server prunes.
func convertGears(w http.ResponseWriter, r *http.Request) {
	var rev apiextensionsv1.ConversionReview
	if err := json.NewDecoder(r.Body).Decode(&rev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp := &apiextensionsv1.ConversionResponse{UID: rev.Request.UID, Result: metav1.Status{Status: metav1.StatusSuccess}}
	for _, raw := range rev.Request.Objects {
		u := &unstructured.Unstructured{}
		_ = u.UnmarshalJSON(raw.Raw)
		if strings.HasSuffix(rev.Request.DesiredAPIVersion, "/v2") {
			size, _, _ := unstructured.NestedString(u.Object, "spec", "size")
			n, _ := strconv.Atoi(size)
			u.Object["spec"] = map[string]interface{}{"replicas": int64(n), "unknown": true}
		} else {
			n, _, _ := unstructured.NestedInt64(u.Object, "spec", "replicas")
			u.Object["spec"] = map[string]interface{}{"size": strconv.FormatInt(n, 10)}
		}
		u.SetAPIVersion(rev.Request.DesiredAPIVersion)
		data, _ := u.MarshalJSON()
		resp.ConvertedObjects = append(resp.ConvertedObjects, runtime.RawExtension{Raw: data})
	}
	rev.Request, rev.Response = nil, resp
	_ = json.NewEncoder(w).Encode(&rev)
}

func TestCustomResourceWebhookConversion(t *testing.T) {
	hook := httptest.NewTLSServer(http.HandlerFunc(convertGears))
	defer hook.Close()
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw})
	srv := testserver.Start(t)
	ctx := context.Background()
	ext := apiextensionsclient.NewForConfigOrDie(srv.Config)
	establish(t, ctx, ext, gearsCRD(t, hook.URL+"/convert", ca))
	dyn := dynamic.NewForConfigOrDie(srv.Config)
	v1 := dyn.Resource(schema.GroupVersionResource{Group: "example.com", Version: "v1", Resource: "gears"}).Namespace("default")
	v2 := dyn.Resource(schema.GroupVersionResource{Group: "example.com", Version: "v2", Resource: "gears"}).Namespace("default")
	gear := func(version, name string, spec map[string]interface{}) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]interface{}{"apiVersion": "example.com/" + version, "kind": "Gear",
			"metadata": map[string]interface{}{"name": name}, "spec": spec}}
	}

	if _, err := v1.Create(ctx, gear("v1", "g1", map[string]interface{}{"size": "3"}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	got, err := v2.Get(ctx, "g1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := unstructured.NestedInt64(got.Object, "spec", "replicas"); n != 3 || got.GetAPIVersion() != "example.com/v2" {
		t.Errorf("g1 read as v2: %v", got.Object)
	}
	if _, found, _ := unstructured.NestedFieldNoCopy(got.Object, "spec", "unknown"); found {
		t.Error("a field the webhook added outside the v2 schema was not pruned")
	}
	created, err := v2.Create(ctx, gear("v2", "g2", map[string]interface{}{"replicas": int64(4)}), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, _, _ := unstructured.NestedInt64(created.Object, "spec", "replicas"); n != 4 || created.GetAPIVersion() != "example.com/v2" {
		t.Errorf("g2 as created: %v", created.Object)
	}
	got, err = v1.Get(ctx, "g2", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s, _, _ := unstructured.NestedString(got.Object, "spec", "size"); s != "4" {
		t.Errorf("g2 read as v1: %v", got.Object)
	}
	// The v2 schema applies to v2 writes, in v2.
	if _, err := v2.Create(ctx, gear("v2", "g3", map[string]interface{}{"replicas": int64(10)}), metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.replicas") {
		t.Errorf("v2 object over its maximum: %v, want 422 on spec.replicas", err)
	}
	if _, err := v2.Patch(ctx, "g1", types.MergePatchType, []byte(`{"spec":{"replicas":5}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	apply := []byte(`{"apiVersion":"example.com/v2","kind":"Gear","metadata":{"name":"g2"},"spec":{"replicas":6}}`)
	if _, err := v2.Patch(ctx, "g2", types.ApplyPatchType, apply, metav1.PatchOptions{FieldManager: "test", Force: ptrTo(true)}); err != nil {
		t.Fatalf("apply as v2: %v", err)
	}
	list, err := v1.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 {
		t.Fatalf("list as v1: %v %v", err, list)
	}
	for i, want := range []string{"5", "6"} {
		if s, _, _ := unstructured.NestedString(list.Items[i].Object, "spec", "size"); s != want {
			t.Errorf("%s as v1 after v2 writes: size %q, want %q", list.Items[i].GetName(), s, want)
		}
	}
	list, err = v2.List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 2 || list.Items[1].GetAPIVersion() != "example.com/v2" {
		t.Fatalf("list as v2: %v %v", err, list)
	}
	// A field selector sees the fields of the version asked for, not the stored ones.
	for _, c := range []struct {
		client         dynamic.ResourceInterface
		selector, want string
	}{{v2, "spec.replicas=5", "g1"}, {v1, "spec.size=6", "g2"}, {v2, "spec.replicas!=5", "g2"}} {
		sel, err := c.client.List(ctx, metav1.ListOptions{FieldSelector: c.selector})
		if err != nil || len(sel.Items) != 1 || sel.Items[0].GetName() != c.want {
			t.Errorf("list with %s: %v %v, want only %s", c.selector, err, sel, c.want)
		}
	}
	w, err := v2.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v1.Patch(ctx, "g1", types.MergePatchType, []byte(`{"spec":{"size":"7"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var ev watch.Event
	select {
	case ev = <-w.ResultChan():
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event as v2")
	}
	w.Stop()
	if n, _, _ := unstructured.NestedInt64(ev.Object.(*unstructured.Unstructured).Object, "spec", "replicas"); n != 7 {
		t.Errorf("watch as v2 after a v1 write: %v", ev.Object)
	}
	crd, err := ext.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, "gears.example.com", metav1.GetOptions{})
	if err != nil || strings.Join(crd.Status.StoredVersions, ",") != "v1" {
		t.Errorf("storedVersions: %v %v", err, crd.Status.StoredVersions)
	}

	hook.Close()
	_, err = v2.Get(ctx, "g1", metav1.GetOptions{})
	if status, ok := err.(apierrors.APIStatus); !ok || status.Status().Code != http.StatusServiceUnavailable || !strings.Contains(err.Error(), "conversion webhook") {
		t.Errorf("read as v2 with the webhook down: %v, want 503 naming the conversion webhook", err)
	}
	if _, err := v1.Get(ctx, "g1", metav1.GetOptions{}); err != nil {
		t.Errorf("read in the storage version with the webhook down: %v", err)
	}
	if _, err := v2.Create(ctx, gear("v2", "g4", map[string]interface{}{"replicas": int64(1)}), metav1.CreateOptions{}); !apierrors.IsServiceUnavailable(err) {
		t.Errorf("create through v2 with the webhook down: %v, want 503", err)
	}
	if _, err := v1.Get(ctx, "g4", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused write left g4 behind: %v", err)
	}
}

func ptrTo[T any](v T) *T { return &v }
