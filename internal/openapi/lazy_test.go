package openapi

import (
	"net/http"
	"testing"

	"k8s.io/kube-openapi/pkg/spec3"
	"k8s.io/kube-openapi/pkg/validation/spec"
)

// TestBuiltWhenAskedFor: nothing is built until a document is asked for, and the
// custom resources' documents are asked for once per change, however many
// changes and requests there are.
func TestBuiltWhenAskedFor(t *testing.T) {
	asked := 0
	h := New(testScheme(t), testResources, func() ([]*spec.Swagger, map[string]*spec3.OpenAPI) {
		asked++
		return nil, nil
	})
	h.CustomChanged()
	h.CustomChanged()
	if h.built != nil || asked != 0 {
		t.Fatalf("before any request: built %v, custom documents asked %d times", h.built != nil, asked)
	}
	for i := 0; i < 2; i++ {
		if resp := get(t, h, "/openapi/v3", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /openapi/v3: %s", resp.Status)
		}
	}
	if h.built == nil || asked != 1 {
		t.Fatalf("after two requests: built %v, custom documents asked %d times, want once", h.built != nil, asked)
	}
	h.CustomChanged()
	if resp := get(t, h, "/openapi/v2", "application/json"); resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi/v2: %s", resp.Status)
	}
	if asked != 2 {
		t.Fatalf("after a change: custom documents asked %d times, want twice", asked)
	}
}
