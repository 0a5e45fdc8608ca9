package openapi

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	openapiv2 "github.com/google/gnostic-models/openapiv2"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/kube-openapi/pkg/handler3"
	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// testResources mirrors the table skiff serves: every group/version, both
// scopes, every kind of subresource, and the two versions k8s.io/api has no
// types for or serves from another version's storage.
var testResources = []Resource{
	{Version: "v1", Resource: "namespaces", Kind: "Namespace", Subresources: []string{"status", "finalize"}},
	{Version: "v1", Resource: "pods", Kind: "Pod", Namespaced: true,
		Subresources: []string{"status", "binding", "log", "exec", "attach", "portforward", "eviction", "ephemeralcontainers", "proxy"}},
	{Version: "v1", Resource: "services", Kind: "Service", Namespaced: true, Subresources: []string{"status", "proxy"}},
	{Version: "v1", Resource: "serviceaccounts", Kind: "ServiceAccount", Namespaced: true, Subresources: []string{"token"}},
	{Version: "v1", Resource: "nodes", Kind: "Node", Subresources: []string{"status", "proxy"}},
	{Version: "v1", Resource: "configmaps", Kind: "ConfigMap", Namespaced: true},
	{Version: "v1", Resource: "events", Kind: "Event", Namespaced: true},
	{Version: "v1", Resource: "replicationcontrollers", Kind: "ReplicationController", Namespaced: true, Subresources: []string{"status", "scale"}},
	{Group: "apps", Version: "v1", Resource: "deployments", Kind: "Deployment", Namespaced: true, Subresources: []string{"status", "scale"}},
	{Group: "apps", Version: "v1", Resource: "statefulsets", Kind: "StatefulSet", Namespaced: true, Subresources: []string{"status", "scale"}},
	{Group: "batch", Version: "v1", Resource: "jobs", Kind: "Job", Namespaced: true, Subresources: []string{"status"}},
	{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true, Subresources: []string{"status"}},
	{Group: "autoscaling", Version: "v1", Resource: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true, Subresources: []string{"status"}},
	{Group: "autoscaling", Version: "v2beta2", Resource: "horizontalpodautoscalers", Kind: "HorizontalPodAutoscaler", Namespaced: true, Subresources: []string{"status"}},
	{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets", Kind: "PodDisruptionBudget", Namespaced: true, Subresources: []string{"status"}},
	{Group: "policy", Version: "v1beta1", Resource: "poddisruptionbudgets", Kind: "PodDisruptionBudget", Namespaced: true, Subresources: []string{"status"}},
	{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses", Kind: "Ingress", Namespaced: true, Subresources: []string{"status"}},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Resource: "clusterroles", Kind: "ClusterRole"},
	{Group: "storage.k8s.io", Version: "v1", Resource: "storageclasses", Kind: "StorageClass"},
	{Group: "scheduling.k8s.io", Version: "v1", Resource: "priorityclasses", Kind: "PriorityClass"},
	{Group: "coordination.k8s.io", Version: "v1", Resource: "leases", Kind: "Lease", Namespaced: true},
	{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices", Kind: "EndpointSlice", Namespaced: true},
	{Group: "events.k8s.io", Version: "v1", Resource: "events", Kind: "Event", Namespaced: true},
	{Group: "authentication.k8s.io", Version: "v1", Resource: "tokenreviews", Kind: "TokenReview"},
	{Group: "authorization.k8s.io", Version: "v1", Resource: "selfsubjectaccessreviews", Kind: "SelfSubjectAccessReview"},
	{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests", Kind: "CertificateSigningRequest", Subresources: []string{"status", "approval"}},
}

func testScheme(t testing.TB) *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return s
}

// The handler takes a second to build; the tests share one.
var (
	handlerOnce sync.Once
	handler     *Handler
	handlerErr  error
)

func testHandler(t testing.TB) *Handler {
	handlerOnce.Do(func() { handler = New(testScheme(t), testResources, nil); _, handlerErr = handler.current() })
	if handlerErr != nil {
		t.Fatal(handlerErr)
	}
	return handler
}

func get(t testing.TB, h http.Handler, url, accept string) *http.Response {
	req := httptest.NewRequest(http.MethodGet, url, nil)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t testing.TB, resp *http.Response) []byte {
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func v2Swagger(t testing.TB) *spec.Swagger {
	resp := get(t, testHandler(t), "/openapi/v2", "application/json")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi/v2: %s", resp.Status)
	}
	var sw spec.Swagger
	if err := json.Unmarshal(body(t, resp), &sw); err != nil {
		t.Fatal(err)
	}
	return &sw
}

func hasGVK(ext spec.Extensions, gvk schema.GroupVersionKind) bool {
	var list []map[string]string
	if err := ext.GetObject(extGVK, &list); err != nil {
		var one map[string]string
		if ext.GetObject(extGVK, &one) != nil {
			return false
		}
		list = append(list, one)
	}
	return slices.ContainsFunc(list, func(m map[string]string) bool {
		return m["group"] == gvk.Group && m["version"] == gvk.Version && m["kind"] == gvk.Kind
	})
}

// paramNames lists an operation's parameters, following references to the
// parameters shared at the top of the document.
func paramNames(sw *spec.Swagger, ps []spec.Parameter) []string {
	var out []string
	for _, p := range ps {
		if ref := p.Ref.String(); ref != "" {
			p = sw.Parameters[strings.TrimPrefix(ref, "#/parameters/")]
		}
		out = append(out, p.Name)
	}
	return out
}

func TestV2Definitions(t *testing.T) {
	sw := v2Swagger(t)
	tests := []struct {
		name string
		gvk  schema.GroupVersionKind
	}{
		{"io.k8s.api.apps.v1.Deployment", schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}},
		{"io.k8s.api.core.v1.Pod", schema.GroupVersionKind{Version: "v1", Kind: "Pod"}},
		{"io.k8s.api.autoscaling.v1.Scale", schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}},
		{"io.k8s.api.autoscaling.v2beta2.HorizontalPodAutoscaler", schema.GroupVersionKind{Group: "autoscaling", Version: "v2beta2", Kind: "HorizontalPodAutoscaler"}},
		{"io.k8s.api.autoscaling.v2beta2.HorizontalPodAutoscalerList", schema.GroupVersionKind{Group: "autoscaling", Version: "v2beta2", Kind: "HorizontalPodAutoscalerList"}},
		{"io.k8s.api.policy.v1beta1.PodDisruptionBudget", schema.GroupVersionKind{Group: "policy", Version: "v1beta1", Kind: "PodDisruptionBudget"}},
		{"io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DeleteOptions"}},
	}
	for _, tt := range tests {
		def, ok := sw.Definitions[tt.name]
		if !ok {
			t.Errorf("no definition %s", tt.name)
			continue
		}
		if !hasGVK(def.Extensions, tt.gvk) {
			t.Errorf("%s: %s = %v, want it to include %v", tt.name, extGVK, def.Extensions[extGVK], tt.gvk)
		}
	}

	// The v2beta2 copy keeps the v2 schema but not the v2 GVK, and the
	// original is left alone.
	if hasGVK(sw.Definitions["io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"].Extensions,
		schema.GroupVersionKind{Group: "autoscaling", Version: "v2beta2", Kind: "HorizontalPodAutoscaler"}) {
		t.Error("autoscaling/v2 HorizontalPodAutoscaler claims the v2beta2 GVK")
	}

	// kubectl explain prints these descriptions.
	rollingUpdate := sw.Definitions["io.k8s.api.apps.v1.RollingUpdateDeployment"]
	if d := rollingUpdate.Properties["maxSurge"].Description; !strings.Contains(d, "maximum number of pods that can be scheduled above the desired number") {
		t.Errorf("maxSurge description = %q", d)
	}
	strategy := sw.Definitions["io.k8s.api.apps.v1.DeploymentSpec"].Properties["strategy"]
	if strategy.Description == "" || strategy.Ref.String() != "#/definitions/io.k8s.api.apps.v1.DeploymentStrategy" {
		t.Errorf("DeploymentSpec.strategy = %+v", strategy)
	}
	// kubectl apply and edit need the strategic merge patch keys.
	containers := sw.Definitions["io.k8s.api.core.v1.PodSpec"].Properties["containers"]
	if containers.Extensions["x-kubernetes-patch-merge-key"] != "name" {
		t.Errorf("PodSpec.containers extensions = %v", containers.Extensions)
	}
}

// Every operation that writes must declare fieldValidation: kubectl looks at
// the PATCH of a kind to decide whether the server validates fields.
func TestV2WriteOperationsDeclareFieldValidation(t *testing.T) {
	sw := v2Swagger(t)
	deployment := sw.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]
	if deployment.Patch == nil {
		t.Fatal("no PATCH on deployments/{name}")
	}
	patch := deployment.Patch
	if !slices.Contains(paramNames(sw, patch.Parameters), "fieldValidation") {
		t.Errorf("PATCH deployments/{name} parameters = %v, want fieldValidation", paramNames(sw, patch.Parameters))
	}
	if !hasGVK(patch.Extensions, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}) || patch.Extensions["x-kubernetes-action"] != "patch" {
		t.Errorf("PATCH deployments/{name} extensions = %v", patch.Extensions)
	}
	if patch.ID != "patchAppsV1NamespacedDeployment" {
		t.Errorf("operationId = %q", patch.ID)
	}
	for _, mt := range []string{"application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"} {
		if !slices.Contains(patch.Consumes, mt) {
			t.Errorf("PATCH consumes %v, want %s", patch.Consumes, mt)
		}
	}
	scale := sw.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]
	if scale.Put == nil || !hasGVK(scale.Put.Extensions, schema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}) {
		t.Errorf("PUT deployments/{name}/scale = %+v", scale.Put)
	}

	writes := 0
	for path, item := range sw.Paths.Paths {
		for method, op := range map[string]*spec.Operation{"POST": item.Post, "PUT": item.Put, "PATCH": item.Patch} {
			if op == nil || op.Extensions["x-kubernetes-action"] == "connect" {
				continue
			}
			writes++
			if !slices.Contains(paramNames(sw, op.Parameters), "fieldValidation") {
				t.Errorf("%s %s parameters = %v, want fieldValidation", method, path, paramNames(sw, op.Parameters))
			}
		}
	}
	if writes < 50 {
		t.Errorf("only %d write operations in the document", writes)
	}

	list := sw.Paths.Paths["/apis/apps/v1/deployments"].Get
	if list == nil || list.ID != "listAppsV1DeploymentForAllNamespaces" {
		t.Fatalf("GET /apis/apps/v1/deployments = %+v", list)
	}
	names := paramNames(sw, list.Parameters)
	for _, want := range []string{"labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch", "timeoutSeconds"} {
		if !slices.Contains(names, want) {
			t.Errorf("list parameters %v lack %s", names, want)
		}
	}
}

func TestV2Protobuf(t *testing.T) {
	h := testHandler(t)
	resp := get(t, h, "/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	var doc openapiv2.Document
	if err := proto.Unmarshal(body(t, resp), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.GetDefinitions() == nil || len(doc.GetDefinitions().GetAdditionalProperties()) < 100 {
		t.Errorf("protobuf document has %d definitions", len(doc.GetDefinitions().GetAdditionalProperties()))
	}

	etag := resp.Header.Get("ETag")
	req := httptest.NewRequest(http.MethodGet, "/openapi/v2", nil)
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match %s: status %d, want 304", etag, rec.Code)
	}
	if resp := get(t, h, "/openapi/v2", "text/html"); resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("Accept text/html: status %s, want 406", resp.Status)
	}
}

func v3Index(t testing.TB) handler3.OpenAPIV3Discovery {
	resp := get(t, testHandler(t), "/openapi/v3", "")
	var index handler3.OpenAPIV3Discovery
	if err := json.Unmarshal(body(t, resp), &index); err != nil {
		t.Fatal(err)
	}
	return index
}

func TestV3(t *testing.T) {
	h := testHandler(t)
	index := v3Index(t)
	for _, want := range []string{"api/v1", "apis/apps/v1", "apis/autoscaling/v2beta2", "apis/policy/v1beta1", "apis/events.k8s.io/v1", "apis/certificates.k8s.io/v1"} {
		if !strings.HasPrefix(index.Paths[want].ServerRelativeURL, "/openapi/v3/"+want+"?hash=") {
			t.Errorf("index[%s] = %+v", want, index.Paths[want])
		}
	}
	for gv, entry := range index.Paths {
		resp := get(t, h, entry.ServerRelativeURL, "application/json")
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s", entry.ServerRelativeURL, resp.Status)
			continue
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, immutable" {
			t.Errorf("GET %s: Cache-Control %q", entry.ServerRelativeURL, cc)
		}
		var doc spec3.OpenAPI
		if err := json.Unmarshal(body(t, resp), &doc); err != nil {
			t.Errorf("%s: %v", gv, err)
			continue
		}
		// A document holds its own paths only.
		for path := range doc.Paths.Paths {
			if !strings.HasPrefix(path, "/"+gv+"/") {
				t.Errorf("%s has path %s", gv, path)
			}
		}
	}

	resp := get(t, h, index.Paths["apis/apps/v1"].ServerRelativeURL, "application/json")
	var apps spec3.OpenAPI
	if err := json.Unmarshal(body(t, resp), &apps); err != nil {
		t.Fatal(err)
	}
	dep := apps.Components.Schemas["io.k8s.api.apps.v1.Deployment"]
	if dep == nil || !hasGVK(dep.Extensions, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}) {
		t.Errorf("apps/v1 Deployment schema = %+v", dep)
	}
	if _, ok := apps.Components.Schemas["io.k8s.api.core.v1.Pod"]; ok {
		t.Error("apps/v1 document carries core/v1 Pod, which none of its paths reach")
	}
	patch := apps.Paths.Paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"].Patch
	var names []string
	for _, p := range patch.Parameters {
		names = append(names, p.Name)
	}
	if !slices.Contains(names, "fieldValidation") {
		t.Errorf("v3 PATCH deployments parameters = %v", names)
	}
	if patch.RequestBody == nil || patch.RequestBody.Content["application/apply-patch+yaml"] == nil {
		t.Errorf("v3 PATCH request body = %+v", patch.RequestBody)
	}

	if resp := get(t, h, index.Paths["apis/apps/v1"].ServerRelativeURL, "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"); resp.StatusCode != http.StatusOK {
		t.Errorf("apps/v1 as protobuf: status %s", resp.Status)
	}

	// A stale hash redirects to the current one; an unknown document is 404.
	if resp := get(t, h, "/openapi/v3/apis/apps/v1?hash=stale", ""); resp.StatusCode != http.StatusMovedPermanently {
		t.Errorf("stale hash: status %s, want 301", resp.Status)
	}
	if resp := get(t, h, "/openapi/v3/apis/nope/v1", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown document: status %s, want 404", resp.Status)
	}
}

func TestOpPrefix(t *testing.T) {
	tests := []struct{ group, version, want string }{
		{"", "v1", "CoreV1"},
		{"apps", "v1", "AppsV1"},
		{"rbac.authorization.k8s.io", "v1", "RbacAuthorizationV1"},
		{"autoscaling", "v2beta2", "AutoscalingV2beta2"},
		{"networking.k8s.io", "", "Networking"},
	}
	for _, tt := range tests {
		if got := opPrefix(tt.group, tt.version); got != tt.want {
			t.Errorf("opPrefix(%q, %q) = %q, want %q", tt.group, tt.version, got, tt.want)
		}
	}
}
