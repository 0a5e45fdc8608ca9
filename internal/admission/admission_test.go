package admission_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	regv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	"skiff/internal/testserver"
)

// webhookServer answers AdmissionReviews on an HTTPS loopback port: /mutate labels
// the object, /validate refuses objects labelled deny=yes, /hang never answers and
// /garbage answers with something that is not a review.
func webhookServer(t *testing.T) (*httptest.Server, []byte) {
	mux := http.NewServeMux()
	review := func(decide func(*admissionv1.AdmissionResponse, map[string]string)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var rev admissionv1.AdmissionReview
			if err := json.NewDecoder(r.Body).Decode(&rev); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			var obj corev1.ConfigMap
			_ = json.Unmarshal(rev.Request.Object.Raw, &obj)
			resp := &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: true}
			decide(resp, obj.Labels)
			rev.Request, rev.Response = nil, resp
			_ = json.NewEncoder(w).Encode(&rev)
		}
	}
	mux.HandleFunc("/mutate", review(func(resp *admissionv1.AdmissionResponse, labels map[string]string) {
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType, resp.Patch = &pt, []byte(`[{"op":"add","path":"/metadata/labels","value":{"mutated":"yes"}}]`)
		resp.Warnings = []string{"labelled by the test webhook"}
	}))
	mux.HandleFunc("/validate", review(func(resp *admissionv1.AdmissionResponse, labels map[string]string) {
		if labels["deny"] == "yes" {
			resp.Allowed = false
			resp.Result = &metav1.Status{Code: 403, Message: "the test webhook refuses deny=yes"}
		}
	}))
	mux.HandleFunc("/hang", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	})
	mux.HandleFunc("/garbage", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "not a review") })
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return srv, ca
}

// warnings collects the Warning headers the server sends.
type warnings []string

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) { *w = append(*w, text) }

func validatingHook(name, url string, ca []byte, fp regv1.FailurePolicyType, timeout int32) *regv1.ValidatingWebhookConfiguration {
	return &regv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []regv1.ValidatingWebhook{{
			Name:                    name + ".test.skiff",
			ClientConfig:            regv1.WebhookClientConfig{URL: &url, CABundle: ca},
			Rules:                   []regv1.RuleWithOperations{configMapCreates},
			FailurePolicy:           &fp,
			SideEffects:             ptr.To(regv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			TimeoutSeconds:          &timeout,
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"hooked": "yes"}},
		}},
	}
}

var configMapCreates = regv1.RuleWithOperations{
	Operations: []regv1.OperationType{regv1.Create},
	Rule:       regv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"configmaps"}},
}

func cm(name string, labels map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

// eventually retries create until check accepts its result: the plugins see a new
// configuration once their informers do.
func eventually(t *testing.T, create func() error, check func(error) bool) error {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := create()
		if check(err) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestWebhooks(t *testing.T) {
	srv := testserver.Start(t)
	hook, ca := webhookServer(t)
	ctx := context.Background()
	var warned warnings
	cfg := rest.CopyConfig(srv.Config)
	cfg.WarningHandler = &warned
	client := kubernetes.NewForConfigOrDie(cfg)
	cms := client.CoreV1().ConfigMaps("default")
	hooks := client.AdmissionregistrationV1()

	mut := &regv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "label"},
		Webhooks: []regv1.MutatingWebhook{{
			Name:                    "label.test.skiff",
			ClientConfig:            regv1.WebhookClientConfig{URL: ptr.To(hook.URL + "/mutate"), CABundle: ca},
			Rules:                   []regv1.RuleWithOperations{configMapCreates},
			SideEffects:             ptr.To(regv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
			MatchConditions:         []regv1.MatchCondition{{Name: "named", Expression: `object.metadata.name.startsWith("mutate-")`}},
		}},
	}
	got, err := hooks.MutatingWebhookConfigurations().Create(ctx, mut, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if w := got.Webhooks[0]; *w.FailurePolicy != regv1.Fail || *w.TimeoutSeconds != 10 || *w.ReinvocationPolicy != regv1.NeverReinvocationPolicy {
		t.Errorf("defaults: failurePolicy %v timeoutSeconds %v reinvocationPolicy %v", *w.FailurePolicy, *w.TimeoutSeconds, *w.ReinvocationPolicy)
	}
	n := 0
	err = eventually(t, func() error {
		n++
		c, err := cms.Create(ctx, cm(fmt.Sprintf("mutate-%d", n), nil), metav1.CreateOptions{})
		if err == nil && c.Labels["mutated"] != "yes" {
			return fmt.Errorf("not mutated: %v", c.Labels)
		}
		return err
	}, func(err error) bool { return err == nil })
	if err != nil {
		t.Fatalf("mutating webhook: %v", err)
	}
	if !strings.Contains(strings.Join(warned, "|"), "labelled by the test webhook") {
		t.Errorf("webhook warning not passed back: %q", warned)
	}
	if c, err := cms.Create(ctx, cm("other", nil), metav1.CreateOptions{}); err != nil || c.Labels["mutated"] != "" {
		t.Errorf("matchConditions ignored: %v %v", c.Labels, err)
	}

	if _, err := hooks.ValidatingWebhookConfigurations().Create(ctx, validatingHook("deny", hook.URL+"/validate", ca, regv1.Fail, 10), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A new name each try: a try before the webhook is active stores its object.
	denied := ""
	err = eventually(t, func() error {
		n++
		denied = fmt.Sprintf("denied-%d", n)
		_, err := cms.Create(ctx, cm(denied, map[string]string{"hooked": "yes", "deny": "yes"}), metav1.CreateOptions{})
		return err
	}, apierrors.IsForbidden)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "the test webhook refuses deny=yes") {
		t.Fatalf("validating webhook: %v", err)
	}
	if _, err := cms.Get(ctx, denied, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("refused object %s stored: %v", denied, err)
	}

	for _, tc := range []struct{ path, want string }{
		{"/hang", "context deadline exceeded"},
		{"/garbage", "failed calling webhook"},
	} {
		name := strings.TrimPrefix(tc.path, "/")
		if _, err := hooks.ValidatingWebhookConfigurations().Create(ctx, validatingHook(name, hook.URL+tc.path, ca, regv1.Fail, 1), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = eventually(t, func() error {
			start = time.Now()
			_, err := cms.Create(ctx, cm("bad-"+name, map[string]string{"hooked": "yes"}), metav1.CreateOptions{})
			return err
		}, func(err error) bool { return err != nil })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s webhook with failurePolicy Fail: %v, want an error with %q", name, err, tc.want)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s webhook: the refusal took %v, timeoutSeconds is 1", name, d)
		}
		// With Ignore, the same broken webhook lets the write through.
		vw, _ := hooks.ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
		vw.Webhooks[0].FailurePolicy = ptr.To(regv1.Ignore)
		if _, err := hooks.ValidatingWebhookConfigurations().Update(ctx, vw, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := eventually(t, func() error {
			_, err := cms.Create(ctx, cm("ignored-"+name, map[string]string{"hooked": "yes"}), metav1.CreateOptions{})
			return err
		}, func(err error) bool { return err == nil }); err != nil {
			t.Errorf("%s webhook with failurePolicy Ignore: %v", name, err)
		}
		_ = hooks.ValidatingWebhookConfigurations().Delete(ctx, name, metav1.DeleteOptions{})
	}
}

func TestWebhookConfigurationValidation(t *testing.T) {
	srv := testserver.Start(t)
	hooks := srv.Client.AdmissionregistrationV1().ValidatingWebhookConfigurations()
	ctx := context.Background()
	bad := validatingHook("bad", "http://example.invalid/x", nil, "Sometimes", 31)
	bad.Webhooks[0].SideEffects = nil
	bad.Webhooks[0].MatchConditions = []regv1.MatchCondition{{Name: "broken", Expression: "object.metadata.name ==="}}
	_, err := hooks.Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v, want 422", err)
	}
	for _, f := range []string{"webhooks[0].clientConfig.url", "webhooks[0].failurePolicy", "webhooks[0].sideEffects",
		"webhooks[0].timeoutSeconds", "webhooks[0].matchConditions[0].expression"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
}

func TestPolicyValidation(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	reg := srv.Client.AdmissionregistrationV1()
	policy := &regv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "broken"},
		Spec: regv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &regv1.MatchResources{ResourceRules: []regv1.NamedRuleWithOperations{{RuleWithOperations: configMapCreates}}},
			Validations: []regv1.Validation{
				{Expression: "object.data.size() <"},
				{Expression: "params.max > 1"}, // no paramKind: params is not declared
				{Expression: "true", MessageExpression: "42 +"},
			},
		},
	}
	_, err := reg.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v, want 422", err)
	}
	for _, f := range []string{"spec.validations[0].expression", "spec.validations[1].expression", "spec.validations[2].messageExpression"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
	if _, err := reg.ValidatingAdmissionPolicies().Get(ctx, "broken", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused policy was stored: %v", err)
	}
	binding := &regv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "both"},
		Spec:       regv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: "p", ValidationActions: []regv1.ValidationAction{regv1.Deny, regv1.Warn}},
	}
	if _, err := reg.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); !apierrors.IsInvalid(err) ||
		!strings.Contains(err.Error(), "must not contain both Deny and Warn") {
		t.Errorf("binding with Deny and Warn: %v", err)
	}
}

// TestPolicyWarn: a binding with validationActions [Warn] lets the write through and
// the client gets the policy's message as a warning.
func TestPolicyWarn(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	var warned warnings
	cfg := rest.CopyConfig(srv.Config)
	cfg.WarningHandler = &warned
	client := kubernetes.NewForConfigOrDie(cfg)
	reg := client.AdmissionregistrationV1()
	policy := &regv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "small"},
		Spec: regv1.ValidatingAdmissionPolicySpec{
			MatchConstraints: &regv1.MatchResources{ResourceRules: []regv1.NamedRuleWithOperations{{RuleWithOperations: configMapCreates}}},
			Validations:      []regv1.Validation{{Expression: "!has(object.data) || object.data.size() < 2", Message: "configmaps should hold fewer than 2 keys"}},
		},
	}
	if _, err := reg.ValidatingAdmissionPolicies().Create(ctx, policy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &regv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "small"},
		Spec:       regv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: "small", ValidationActions: []regv1.ValidationAction{regv1.Warn}},
	}
	if _, err := reg.ValidatingAdmissionPolicyBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := eventually(t, func() error {
		n++
		c := cm(fmt.Sprintf("big-%d", n), nil)
		c.Data = map[string]string{"a": "1", "b": "2"}
		_, err := client.CoreV1().ConfigMaps("default").Create(ctx, c, metav1.CreateOptions{})
		if err == nil && !strings.Contains(strings.Join(warned, "|"), "configmaps should hold fewer than 2 keys") {
			return fmt.Errorf("no warning yet: %q", warned)
		}
		return err
	}, func(err error) bool { return err == nil })
	if err != nil {
		t.Errorf("Warn binding: %v", err)
	}
}

// TestReinvocation: a webhook with reinvocationPolicy IfNeeded runs again when a
// later webhook changes the object after it.
func TestReinvocation(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	var first atomic.Int32
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, r *http.Request, patch string) {
		var rev admissionv1.AdmissionReview
		_ = json.NewDecoder(r.Body).Decode(&rev)
		resp := &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: true}
		if patch != "" {
			pt := admissionv1.PatchTypeJSONPatch
			resp.PatchType, resp.Patch = &pt, []byte(patch)
		}
		rev.Request, rev.Response = nil, resp
		_ = json.NewEncoder(w).Encode(&rev)
	}
	mux.HandleFunc("/first", func(w http.ResponseWriter, r *http.Request) { first.Add(1); answer(w, r, "") })
	mux.HandleFunc("/second", func(w http.ResponseWriter, r *http.Request) {
		answer(w, r, `[{"op":"add","path":"/metadata/annotations","value":{"second":"was-here"}}]`)
	})
	hook := httptest.NewTLSServer(mux)
	t.Cleanup(hook.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw})
	webhook := func(name string, policy regv1.ReinvocationPolicyType) regv1.MutatingWebhook {
		return regv1.MutatingWebhook{
			Name: name + ".test.skiff", ClientConfig: regv1.WebhookClientConfig{URL: ptr.To(hook.URL + "/" + name), CABundle: ca},
			Rules: []regv1.RuleWithOperations{configMapCreates}, SideEffects: ptr.To(regv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"}, ReinvocationPolicy: &policy,
			ObjectSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"hooked": "yes"}},
		}
	}
	cfg := &regv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "pair"},
		Webhooks: []regv1.MutatingWebhook{webhook("first", regv1.IfNeededReinvocationPolicy), webhook("second", regv1.NeverReinvocationPolicy)}}
	if _, err := srv.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := eventually(t, func() error {
		n++
		first.Store(0)
		c, err := srv.Client.CoreV1().ConfigMaps("default").Create(ctx, cm(fmt.Sprintf("r-%d", n), map[string]string{"hooked": "yes"}), metav1.CreateOptions{})
		if err == nil && c.Annotations["second"] != "was-here" {
			return fmt.Errorf("second webhook's patch missing")
		}
		return err
	}, func(err error) bool { return err == nil })
	if err != nil {
		t.Fatal(err)
	}
	if got := first.Load(); got != 2 {
		t.Errorf("the IfNeeded webhook ran %d times, want 2 (once more after the second changed the object)", got)
	}
}
