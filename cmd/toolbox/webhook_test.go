package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
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
