package apiserver_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/testserver"
)

// changeOnDeleteHook is a validating webhook that, the first time it is asked about
// deleting a ConfigMap whose name starts with "change-", writes to that ConfigMap
// before allowing the delete: a controller's status update landing between the API
// server's read and its delete, made deterministic.
type changeOnDeleteHook struct {
	client  kubernetes.Interface
	changed sync.Map     // names written to
	seen    atomic.Int32 // admission reviews of any delete
}

func (h *changeOnDeleteHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rev admissionv1.AdmissionReview
	if err := json.NewDecoder(r.Body).Decode(&rev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h.seen.Add(1)
	name := rev.Request.Name
	if _, done := h.changed.LoadOrStore(name, true); !done && strings.HasPrefix(name, "change-") {
		c := h.client.CoreV1().ConfigMaps(rev.Request.Namespace)
		if cur, err := c.Get(r.Context(), name, metav1.GetOptions{}); err == nil {
			cur.Data["k"] = "changed while the delete was in admission"
			_, _ = c.Update(r.Context(), cur, metav1.UpdateOptions{})
		}
	}
	rev.Response = &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: true}
	rev.Request = nil
	_ = json.NewEncoder(w).Encode(&rev)
}

// A delete with a UID precondition (the garbage collector spec deletes a Deployment
// so while its controller writes status) succeeds when the object changed after the
// server read it: the precondition still holds on a fresh read. A resourceVersion
// precondition is still a 409 when the object moved on.
func TestDeleteWithUIDPreconditionRetriesAConcurrentWrite(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	hook := &changeOnDeleteHook{client: srv.Client}
	ts := httptest.NewTLSServer(hook)
	defer ts.Close()
	url := ts.URL + "/validate"
	none := admissionregv1.SideEffectClassNone
	fail := admissionregv1.Fail
	cfg := &admissionregv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "change-on-delete"},
		Webhooks: []admissionregv1.ValidatingWebhook{{
			Name: "change-on-delete.skiff.test",
			ClientConfig: admissionregv1.WebhookClientConfig{URL: &url,
				CABundle: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw})},
			Rules: []admissionregv1.RuleWithOperations{{
				Operations: []admissionregv1.OperationType{admissionregv1.Delete},
				Rule:       admissionregv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
			}},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"hooked": "yes"}},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := srv.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cms := srv.Client.CoreV1().ConfigMaps("default")
	hooked := func(name string) *corev1.ConfigMap {
		c := cm(name)
		c.Labels = map[string]string{"hooked": "yes"}
		created, err := cms.Create(ctx, c, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return created
	}
	// Wait until the server calls the webhook.
	for deadline := time.Now().Add(30 * time.Second); hook.seen.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the webhook was never called")
		}
		hooked("probe")
		if err := cms.Delete(ctx, "probe", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond)
	}

	target := hooked("change-uid")
	err := cms.Delete(ctx, target.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(target.UID))})
	if err != nil {
		t.Fatalf("delete with a UID precondition after a concurrent write: %v", err)
	}
	if _, err := cms.Get(ctx, target.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("after the delete: %v, want NotFound", err)
	}

	pinned := hooked("change-rv")
	err = cms.Delete(ctx, pinned.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &pinned.ResourceVersion}})
	if !apierrors.IsConflict(err) {
		t.Fatalf("delete pinned to a resourceVersion the object moved past: %v, want 409 Conflict", err)
	}
	if got, err := cms.Get(ctx, pinned.Name, metav1.GetOptions{}); err != nil || got.Data["k"] == "v" {
		t.Fatalf("after a rejected delete: %v, data %v; want the object, changed by the webhook", err, got.Data)
	}
}
