package openapi

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const kubectlPath = "/usr/bin/kubectl"

// fakeAPIServer is just enough of an API server for kubectl: legacy
// discovery for core/v1 and apps/v1, the OpenAPI handler under test, and
// deployments that accept writes and remember the query of each.
type fakeAPIServer struct {
	openapi http.Handler

	mu      sync.Mutex
	queries []string // "METHOD path?query" of every write
}

func (f *fakeAPIServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/openapi/") {
		f.openapi.ServeHTTP(w, r)
		return
	}
	switch r.URL.Path {
	case "/api":
		writeJSON(w, http.StatusOK, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
	case "/apis":
		writeJSON(w, http.StatusOK, &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"},
			Groups: []metav1.APIGroup{{Name: "apps", Versions: []metav1.GroupVersionForDiscovery{{GroupVersion: "apps/v1", Version: "v1"}},
				PreferredVersion: metav1.GroupVersionForDiscovery{GroupVersion: "apps/v1", Version: "v1"}}}})
	case "/api/v1":
		writeJSON(w, http.StatusOK, &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "v1",
			APIResources: []metav1.APIResource{{Name: "namespaces", Kind: "Namespace", ShortNames: []string{"ns"},
				Verbs: metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}}}})
	case "/apis/apps/v1":
		writeJSON(w, http.StatusOK, &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: "apps/v1",
			APIResources: []metav1.APIResource{{Name: "deployments", Kind: "Deployment", Namespaced: true, ShortNames: []string{"deploy"},
				Verbs: metav1.Verbs{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}}}})
	case "/apis/apps/v1/namespaces/default/deployments", "/apis/apps/v1/namespaces/default/deployments/web":
		f.deployments(w, r)
	default:
		writeJSON(w, http.StatusNotFound, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound, Message: r.URL.Path + " not found"})
	}
}

// deployments has no deployment to read and echoes every write back.
func (f *fakeAPIServer) deployments(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		writeJSON(w, http.StatusNotFound, &metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
			Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound,
			Details: &metav1.StatusDetails{Name: "web", Group: "apps", Kind: "deployments"}, Message: `deployments.apps "web" not found`})
		return
	}
	f.mu.Lock()
	f.queries = append(f.queries, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
	f.mu.Unlock()
	in, _ := io.ReadAll(r.Body)
	out, err := yaml.YAMLToJSON(in) // server-side apply sends YAML
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	w.Write(out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// kubectl runs the real kubectl against srv with a kubeconfig and cache of
// its own.
func kubectl(t *testing.T, srv *httptest.Server, stdin string, args ...string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	config := "apiVersion: v1\nkind: Config\ncurrent-context: fake\n" +
		"clusters:\n- name: fake\n  cluster:\n    server: " + srv.URL + "\n" +
		"contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n" +
		"users:\n- name: fake\n  user: {}\n"
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(kubectlPath, append([]string{"--kubeconfig", kubeconfig, "--cache-dir", filepath.Join(dir, "cache")}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+dir, "KUBECTL_KUBERC=false")
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func startFakeAPIServer(t *testing.T) (*httptest.Server, *fakeAPIServer) {
	if _, err := os.Stat(kubectlPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("kubectl is required in CI: %v", err)
		}
		t.Skipf("no kubectl: %v", err)
	}
	fake := &fakeAPIServer{openapi: testHandler(t)}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return srv, fake
}

func TestKubectlExplain(t *testing.T) {
	srv, _ := startFakeAPIServer(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"explain", "deployment.spec.strategy"}, []string{
			"KIND:       Deployment", "FIELD: strategy <DeploymentStrategy>",
			"The deployment strategy to use to replace existing pods with new ones.",
			"rollingUpdate\t<RollingUpdateDeployment>", "Rolling update config params."}},
		{[]string{"explain", "deployment.spec.strategy.rollingUpdate.maxSurge"}, []string{
			"FIELD: maxSurge <IntOrString>",
			"The maximum number of pods that can be scheduled above the desired number of pods."}},
		// The OpenAPI v2 document, which kubectl fetches as protobuf.
		{[]string{"explain", "deployment.spec.strategy.rollingUpdate", "--output", "plaintext-openapiv2"}, []string{
			"RESOURCE: rollingUpdate <Object>", "maxSurge\t<string>",
			"The maximum number of pods that can be scheduled above the desired number of pods."}},
	}
	for _, tt := range tests {
		out, err := kubectl(t, srv, "", tt.args...)
		if err != nil {
			t.Errorf("kubectl %s: %v\n%s", strings.Join(tt.args, " "), err, out)
			continue
		}
		// kubectl wraps text to the terminal width; compare words, not lines.
		flat := strings.Join(strings.Fields(out), " ")
		for _, want := range tt.want {
			if !strings.Contains(flat, strings.Join(strings.Fields(want), " ")) {
				t.Errorf("kubectl %s printed\n%s\nwant it to contain %q", strings.Join(tt.args, " "), out, want)
			}
		}
	}
}

// kubectl validates fields on the client only when the OpenAPI document
// says the server cannot. A manifest with an unknown field reaching the
// server shows kubectl found fieldValidation on the operations.
func TestKubectlLeavesFieldValidationToServer(t *testing.T) {
	srv, fake := startFakeAPIServer(t)
	manifest := `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  notAField: true
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx}]
`
	for _, args := range [][]string{
		{"create", "--validate=strict", "-f", "-"},
		{"apply", "--validate=strict", "-f", "-"},
		{"apply", "--server-side", "--validate=strict", "-f", "-"},
	} {
		fake.mu.Lock()
		fake.queries = nil
		fake.mu.Unlock()
		out, err := kubectl(t, srv, manifest, args...)
		if err != nil {
			t.Errorf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
			continue
		}
		fake.mu.Lock()
		queries := fake.queries
		fake.mu.Unlock()
		if len(queries) != 1 || !strings.Contains(queries[0], "fieldValidation=Strict") {
			t.Errorf("kubectl %s sent %q, want one write with fieldValidation=Strict\n%s", strings.Join(args, " "), queries, out)
		}
	}
}

// kubectl always validates a List on the client (no operation takes one), so
// a List shows the schemas are good enough for client-side validation.
func TestKubectlClientSideValidation(t *testing.T) {
	srv, fake := startFakeAPIServer(t)
	list := func(extra string) string {
		return `apiVersion: v1
kind: List
items:
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: web}
  spec:
    replicas: 1` + extra + `
    strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}}
    selector: {matchLabels: {app: web}}
    template:
      metadata: {labels: {app: web}}
      spec:
        containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]
`
	}
	out, err := kubectl(t, srv, list("\n    notAField: true"), "create", "--validate=strict", "-f", "-")
	if err == nil || !strings.Contains(out, `unknown field "notAField" in io.k8s.api.apps.v1.DeploymentSpec`) {
		t.Errorf("kubectl create of a List with an unknown field: err %v, printed\n%s", err, out)
	}
	out, err = kubectl(t, srv, list(""), "create", "--validate=strict", "-f", "-")
	if err != nil {
		t.Errorf("kubectl create of a valid List: %v\n%s", err, out)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.queries) != 1 {
		t.Errorf("writes = %q, want the valid Deployment only", fake.queries)
	}
}
