package apiserver_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"k8s.io/client-go/rest"

	"skiff/internal/testserver"
)

// rawWrite sends body to path and returns the status code, the Warning headers and the body.
func rawWrite(t *testing.T, cfg *rest.Config, method, path, contentType, body string) (int, []string, string) {
	t.Helper()
	c, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(context.Background(), method, cfg.Host+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Values("Warning"), string(b)
}

func TestUnknownFieldsFollowFieldValidation(t *testing.T) {
	srv := testserver.Start(t)
	const cms = "/api/v1/namespaces/default/configmaps"
	cm := func(name string) string {
		return `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"` + name + `"},"data":{"k":"v"},"bogus":1}`
	}
	for _, tc := range []struct {
		mode     string
		wantCode int
		warned   bool
	}{
		{"Ignore", 201, false},
		{"Warn", 201, true},
		{"", 201, true},
		{"Strict", 400, false},
	} {
		name := "cm-" + strings.ToLower(tc.mode)
		if tc.mode == "" {
			name = "cm-default"
		}
		code, warnings, body := rawWrite(t, srv.Config, "POST", cms+"?fieldValidation="+tc.mode, "application/json", cm(name))
		if code != tc.wantCode {
			t.Errorf("create %q: %d %s, want %d", tc.mode, code, body, tc.wantCode)
		}
		gotWarned := strings.Contains(strings.Join(warnings, ","), `unknown field \"bogus\"`)
		if gotWarned != tc.warned {
			t.Errorf("create %q: warnings %q, want warned=%v", tc.mode, warnings, tc.warned)
		}
		if tc.mode == "Strict" && !strings.Contains(body, `unknown field \"bogus\"`) {
			t.Errorf("strict refusal does not name the field: %s", body)
		}
	}
	// A merge patch with an unknown field is a warning (or a 400 with Strict), never a 500.
	code, warnings, body := rawWrite(t, srv.Config, "PATCH", cms+"/cm-warn", "application/merge-patch+json", `{"bogus":1,"data":{"k":"w"}}`)
	if code != 200 || !strings.Contains(strings.Join(warnings, ","), "bogus") {
		t.Errorf("merge patch: %d %q %s", code, warnings, body)
	}
	code, _, body = rawWrite(t, srv.Config, "PATCH", cms+"/cm-warn?fieldValidation=Strict", "application/merge-patch+json", `{"bogus":1}`)
	if code != 400 {
		t.Errorf("strict merge patch: %d %s", code, body)
	}
	// Server-side apply types the applied configuration by the schema: an unknown
	// field is refused whatever fieldValidation says, as in Kubernetes, but as
	// the client's error.
	code, _, body = rawWrite(t, srv.Config, "PATCH", cms+"/cm-warn?fieldManager=t&fieldValidation=Ignore", "application/apply-patch+yaml",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-warn\nbogus: 1\ndata:\n  a: b\n")
	if code != 400 || !strings.Contains(body, ".bogus: field not declared in schema") {
		t.Errorf("apply with an unknown field: %d %s", code, body)
	}
}

// TestApplyDuplicateKeys: a key given twice in an applied YAML is refused with
// fieldValidation=Strict, a warning with Warn, and let through with Ignore.
func TestApplyDuplicateKeys(t *testing.T) {
	srv := testserver.Start(t)
	const path = "/api/v1/namespaces/default/configmaps/"
	body := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: NAME\ndata:\n  k: one\n  k: two\n"
	for _, tc := range []struct {
		mode     string
		wantCode int
		warned   bool
	}{
		{"Strict", 400, false},
		{"Warn", 200, true},
		{"Ignore", 200, false},
	} {
		name := "dup-" + strings.ToLower(tc.mode)
		code, warnings, got := rawWrite(t, srv.Config, "PATCH", path+name+"?fieldManager=test&fieldValidation="+tc.mode,
			"application/apply-patch+yaml", strings.Replace(body, "NAME", name, 1))
		if code != tc.wantCode {
			t.Errorf("apply %s: %d %s, want %d", tc.mode, code, got, tc.wantCode)
		}
		if tc.mode == "Strict" && !strings.Contains(got, `line 7: key \"k\" already set in map`) {
			t.Errorf("apply Strict: %s does not name the duplicate key", got)
		}
		if gotWarned := strings.Contains(strings.Join(warnings, ","), "already set in map"); gotWarned != tc.warned {
			t.Errorf("apply %s: warnings %q, want warned=%v", tc.mode, warnings, tc.warned)
		}
	}
}
