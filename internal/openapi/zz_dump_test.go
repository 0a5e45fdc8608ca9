package openapi

import (
	"os"
	"testing"
	"time"
)

func TestDump(t *testing.T) {
	start := time.Now()
	h, err := New(testScheme(t), testResources)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("build %v", time.Since(start))
	os.WriteFile("/tmp/v2.json", body(t, get(t, h, "/openapi/v2", "")), 0o644)
	os.WriteFile("/tmp/v3index.json", body(t, get(t, h, "/openapi/v3", "")), 0o644)
	os.WriteFile("/tmp/v3apps.json", body(t, get(t, h, "/openapi/v3/apis/apps/v1", "")), 0o644)
	os.WriteFile("/tmp/v3core.json", body(t, get(t, h, "/openapi/v3/api/v1", "")), 0o644)
}
