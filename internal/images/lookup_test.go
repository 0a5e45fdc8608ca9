package images

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPullCheckTellsMissingImagesApart(t *testing.T) {
	reg, err := NewRegistry(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Push("skiff.local/demo:1", randomImage(t)); err != nil {
		t.Fatal(err)
	}
	if err := reg.Push("nginx:1.25", randomImage(t)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(reg.Handler())
	defer srv.Close()
	check, err := PullCheck(srv.URL, srv.Client().Transport.(*http.Transport).TLSClientConfig)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, present := range []string{"skiff.local/demo:1", "nginx:1.25", "docker.io/library/nginx:1.25"} {
		if err := check(ctx, present); err != nil {
			t.Errorf("%s is in the registry, but the check says: %v", present, err)
		}
	}
	err = check(ctx, "skiff.local/missing:1")
	if !errors.Is(err, ErrNotInRegistry) || !strings.Contains(err.Error(), "skiff image import") {
		t.Errorf("missing image: err = %v, want ErrNotInRegistry with the way to add it", err)
	}
	// A registry that cannot be asked does not block the pull.
	srv.Close()
	if err := check(ctx, "skiff.local/missing:1"); err != nil {
		t.Errorf("unreachable registry: err = %v, want nil (the runtime reports its own error)", err)
	}
}
