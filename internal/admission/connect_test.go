package admission_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	regv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"skiff/internal/testserver"
)

// TestConnectAdmission: a webhook matching CONNECT on pods/attach sees the attach
// options and its refusal reaches the client before any stream opens.
func TestConnectAdmission(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	mux := http.NewServeMux()
	mux.HandleFunc("/attach", func(w http.ResponseWriter, r *http.Request) {
		var rev admissionv1.AdmissionReview
		_ = json.NewDecoder(r.Body).Decode(&rev)
		var opts corev1.PodAttachOptions
		_ = json.Unmarshal(rev.Request.Object.Raw, &opts)
		resp := &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: true}
		if rev.Request.Operation == admissionv1.Connect && opts.Stdin && opts.Container == "c1" {
			resp.Allowed, resp.Result = false, &metav1.Status{Code: 403, Message: "attaching to c1 is not allowed"}
		}
		rev.Request, rev.Response = nil, resp
		_ = json.NewEncoder(w).Encode(&rev)
	})
	hook := httptest.NewTLSServer(mux)
	t.Cleanup(hook.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw})
	cfg := &regv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "attach"}, Webhooks: []regv1.ValidatingWebhook{{
		Name: "attach.test.skiff", ClientConfig: regv1.WebhookClientConfig{URL: ptr.To(hook.URL + "/attach"), CABundle: ca},
		Rules: []regv1.RuleWithOperations{{Operations: []regv1.OperationType{regv1.Connect},
			Rule: regv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods/attach"}}}},
		SideEffects: ptr.To(regv1.SideEffectClassNone), AdmissionReviewVersions: []string{"v1"},
	}}}
	if _, err := srv.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c1", Image: "x"}, {Name: "c2", Image: "x"}}}}
	if _, err := srv.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	attach := func(container, stdin string) error {
		return srv.Client.CoreV1().RESTClient().Post().Namespace("default").Resource("pods").Name("p").SubResource("attach").
			Param("container", container).Param("stdin", stdin).Do(ctx).Error()
	}
	err := eventually(t, func() error { return attach("c1", "true") }, apierrors.IsForbidden)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "attaching to c1 is not allowed") {
		t.Fatalf("attach refused by the webhook: got %v", err)
	}
	// Admitted, the request goes on to the pod's node, which it does not have.
	if err := attach("c2", "true"); err == nil || !strings.Contains(err.Error(), "does not have a host assigned") {
		t.Errorf("attach the webhook allows: got %v, want the pod's missing host", err)
	}
}
