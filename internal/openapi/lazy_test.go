package openapi

import (
	"net/http"
	"testing"
	"time"

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

// TestDroppedWhenUnused: documents nobody asked for during keepUnused are
// forgotten; the next request builds them again, with the same ETag, and
// merges the custom resources' documents again.
func TestDroppedWhenUnused(t *testing.T) {
	defer func(d time.Duration) { keepUnused = d }(keepUnused)
	// Long enough for a build and a first serialization on a busy machine.
	keepUnused = 3 * time.Second
	asked := 0
	h := New(testScheme(t), testResources, func() ([]*spec.Swagger, map[string]*spec3.OpenAPI) {
		asked++
		return nil, nil
	})
	first := get(t, h, "/openapi/v3", "")
	// Requests more often than keepUnused keep the documents.
	for range 3 {
		time.Sleep(keepUnused / 2)
		get(t, h, "/openapi/v2", "application/json")
		if built(h) == nil {
			t.Fatal("documents dropped while they were asked for")
		}
	}
	deadline := time.Now().Add(2 * keepUnused)
	for built(h) != nil {
		if time.Now().After(deadline) {
			t.Fatal("documents not dropped after keepUnused without requests")
		}
		time.Sleep(20 * time.Millisecond)
	}
	again := get(t, h, "/openapi/v3", "")
	if again.StatusCode != http.StatusOK || again.Header.Get("ETag") != first.Header.Get("ETag") {
		t.Errorf("rebuilt index: %s ETag %q, want 200 and the first ETag %q", again.Status, again.Header.Get("ETag"), first.Header.Get("ETag"))
	}
	if asked != 2 {
		t.Errorf("custom documents asked %d times, want once per build", asked)
	}
}

func built(h *Handler) *documents {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.built
}
