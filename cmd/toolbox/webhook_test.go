package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// post sends a review of obj to the handler and returns the response.
func post(t *testing.T, h http.HandlerFunc, obj string) *admissionv1.AdmissionResponse {
	t.Helper()
	rev := admissionv1.AdmissionReview{Request: &admissionv1.AdmissionRequest{UID: "u1", Object: runtime.RawExtension{Raw: []byte(obj)}}}
	body, _ := json.Marshal(&rev)
	w := httptest.NewRecorder()
	h(w, httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)))
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Response == nil {
		t.Fatalf("%d %s: %v", w.Code, w.Body, err)
	}
	if out.Response.UID != "u1" {
		t.Errorf("response UID %q, want the request's", out.Response.UID)
	}
	return out.Response
}

func TestWebhookMutate(t *testing.T) {
	wh := &webhook{label: "team/owner=a", deny: "forbidden=true"}
	for _, tc := range []struct{ obj, patch string }{
		{`{"metadata":{"name":"p"}}`, `[{"op":"add","path":"/metadata/labels","value":{"team/owner":"a"}}]`},
		{`{"metadata":{"labels":{"x":"y"}}}`, `[{"op":"add","path":"/metadata/labels/team~1owner","value":"a"}]`},
	} {
		resp := post(t, wh.review(wh.mutate), tc.obj)
		if !resp.Allowed || string(resp.Patch) != tc.patch || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
			t.Errorf("mutate %s: allowed %v patch %s", tc.obj, resp.Allowed, resp.Patch)
		}
	}
}

func TestWebhookValidate(t *testing.T) {
	wh := &webhook{label: "a=b", deny: "forbidden=true"}
	if resp := post(t, wh.review(wh.validate), `{"metadata":{"labels":{"forbidden":"true"}}}`); resp.Allowed || resp.Result.Code != 403 {
		t.Errorf("labelled forbidden=true: %+v", resp)
	}
	if resp := post(t, wh.review(wh.validate), `{"metadata":{"labels":{"forbidden":"no"}}}`); !resp.Allowed {
		t.Errorf("labelled forbidden=no refused: %+v", resp.Result)
	}
}

func TestWebhookConvertRoundTrips(t *testing.T) {
	review := func(apiVersion, desired, obj string) apiextensionsv1.ConversionReview {
		t.Helper()
		body := `{"apiVersion":"` + apiVersion + `","kind":"ConversionReview","request":{"uid":"u1","desiredAPIVersion":"` + desired + `","objects":[` + obj + `]}}`
		w := httptest.NewRecorder()
		convert(w, httptest.NewRequest(http.MethodPost, "/convert", strings.NewReader(body)))
		var out apiextensionsv1.ConversionReview
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil || out.Response == nil || out.Response.UID != "u1" {
			t.Fatalf("%d %s: %v", w.Code, w.Body, err)
		}
		if out.APIVersion != apiVersion {
			t.Errorf("answered as %s, asked as %s", out.APIVersion, apiVersion)
		}
		return out
	}
	v2 := review("apiextensions.k8s.io/v1", "example.com/v2", `{"apiVersion":"example.com/v1","kind":"W","spec":{"size":"3","x":1}}`)
	got := string(v2.Response.ConvertedObjects[0].Raw)
	if got != `{"apiVersion":"example.com/v2","kind":"W","spec":{"replicas":3,"x":1}}` {
		t.Errorf("to v2: %s", got)
	}
	v1 := review("apiextensions.k8s.io/v1beta1", "example.com/v1", got)
	if back := string(v1.Response.ConvertedObjects[0].Raw); back != `{"apiVersion":"example.com/v1","kind":"W","spec":{"size":"3","x":1}}` {
		t.Errorf("back to v1: %s", back)
	}
	bad := review("apiextensions.k8s.io/v1", "example.com/v2", `{"apiVersion":"example.com/v1","kind":"W","spec":{"size":"big"}}`)
	if bad.Response.Result.Status != metav1.StatusFailure || !strings.Contains(bad.Response.Result.Message, "spec.size") {
		t.Errorf("unconvertible object: %+v", bad.Response.Result)
	}
}
