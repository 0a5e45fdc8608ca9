package admission_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
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

func mutatingPolicy(name string, paramKind *regv1.ParamKind, reinvoke regv1.ReinvocationPolicyType, mutations ...regv1.Mutation) *regv1.MutatingAdmissionPolicy {
	return &regv1.MutatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: regv1.MutatingAdmissionPolicySpec{
			ParamKind:          paramKind,
			MatchConstraints:   &regv1.MatchResources{ResourceRules: []regv1.NamedRuleWithOperations{{RuleWithOperations: configMapCreates}}},
			Mutations:          mutations,
			ReinvocationPolicy: reinvoke,
			MatchConditions:    []regv1.MatchCondition{{Name: "marked", Expression: `object.metadata.name.startsWith("m-")`}},
		},
	}
}

func apply(expr string) regv1.Mutation {
	return regv1.Mutation{PatchType: regv1.PatchTypeApplyConfiguration, ApplyConfiguration: &regv1.ApplyConfiguration{Expression: expr}}
}

func jsonPatch(expr string) regv1.Mutation {
	return regv1.Mutation{PatchType: regv1.PatchTypeJSONPatch, JSONPatch: &regv1.JSONPatch{Expression: expr}}
}

// TestMutatingPolicy: an apply-configuration policy with params labels new
// ConfigMaps, a JSON-patch policy annotates them, and the first (IfNeeded) runs again
// after the second changed the object, so it sees the annotation and copies it.
func TestMutatingPolicy(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	reg := srv.Client.AdmissionregistrationV1()
	cms := srv.Client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "params"}, Data: map[string]string{"team": "blue"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	label := mutatingPolicy("label", &regv1.ParamKind{APIVersion: "v1", Kind: "ConfigMap"}, regv1.IfNeededReinvocationPolicy,
		apply(`Object{metadata: Object.metadata{labels: {"team": string(params.data.team),
			"copied": has(object.metadata.annotations) && "stamp" in object.metadata.annotations ? "yes" : "no"}}}`))
	stamp := mutatingPolicy("stamp", nil, regv1.NeverReinvocationPolicy,
		jsonPatch(`[JSONPatch{op: "add", path: "/metadata/annotations", value: {"stamp": "by-policy"}}]`))
	for _, p := range []*regv1.MutatingAdmissionPolicy{label, stamp} {
		got, err := reg.MutatingAdmissionPolicies().Create(ctx, p, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Spec.FailurePolicy == nil || *got.Spec.FailurePolicy != regv1.Fail {
			t.Errorf("%s: failurePolicy not defaulted to Fail: %v", p.Name, got.Spec.FailurePolicy)
		}
	}
	deny := regv1.DenyAction
	bindings := []*regv1.MutatingAdmissionPolicyBinding{
		{ObjectMeta: metav1.ObjectMeta{Name: "label"}, Spec: regv1.MutatingAdmissionPolicyBindingSpec{PolicyName: "label",
			ParamRef: &regv1.ParamRef{Name: "params", Namespace: "default", ParameterNotFoundAction: &deny}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "stamp"}, Spec: regv1.MutatingAdmissionPolicyBindingSpec{PolicyName: "stamp"}},
	}
	for _, b := range bindings {
		if _, err := reg.MutatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	var got *corev1.ConfigMap
	err := eventually(t, func() error {
		n++
		var err error
		got, err = cms.Create(ctx, cm(fmt.Sprintf("m-%d", n), nil), metav1.CreateOptions{})
		if err == nil && (got.Labels["team"] != "blue" || got.Annotations["stamp"] != "by-policy") {
			return fmt.Errorf("not mutated yet: labels %v annotations %v", got.Labels, got.Annotations)
		}
		return err
	}, func(err error) bool { return err == nil })
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["copied"] != "yes" {
		t.Errorf("the IfNeeded policy was not reinvoked after the JSON patch: labels %v", got.Labels)
	}
	if c, err := cms.Create(ctx, cm("other", nil), metav1.CreateOptions{}); err != nil || len(c.Labels)+len(c.Annotations) != 0 {
		t.Errorf("matchConditions ignored: %v %v %v", c.Labels, c.Annotations, err)
	}
}

func TestMutatingPolicyValidation(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	reg := srv.Client.AdmissionregistrationV1()
	bad := mutatingPolicy("broken", nil, "Sometimes",
		apply(`Object{metadata: `),
		jsonPatch(`params.x`), // no paramKind: params is not declared
		regv1.Mutation{PatchType: regv1.PatchTypeJSONPatch},
	)
	bad.Spec.MatchConstraints.ResourceRules[0].Operations = []regv1.OperationType{regv1.Delete}
	_, err := reg.MutatingAdmissionPolicies().Create(ctx, bad, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) {
		t.Fatalf("got %v, want 422", err)
	}
	for _, f := range []string{"spec.reinvocationPolicy", "spec.mutations[0].applyConfiguration.expression",
		"spec.mutations[1].jsonPatch.expression", "spec.mutations[2].jsonPatch", "spec.matchConstraints.resourceRules.operations"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error does not name %s: %v", f, err)
		}
	}
	if _, err := reg.MutatingAdmissionPolicies().Get(ctx, "broken", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a refused policy was stored: %v", err)
	}
	b := &regv1.MutatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"}, Spec: regv1.MutatingAdmissionPolicyBindingSpec{PolicyName: "Not_A_Name"}}
	if _, err := reg.MutatingAdmissionPolicyBindings().Create(ctx, b, metav1.CreateOptions{}); !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.policyName") {
		t.Errorf("binding with a bad policyName: %v", err)
	}
}

// TestDefaultsAfterMutation: what a mutating webhook adds is defaulted, as Kubernetes
// defaults what mutating admission returns (the init container gets its pull policy
// and termination message policy, so the pod validates).
func TestDefaultsAfterMutation(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	mux := http.NewServeMux()
	mux.HandleFunc("/init", func(w http.ResponseWriter, r *http.Request) {
		var rev admissionv1.AdmissionReview
		_ = json.NewDecoder(r.Body).Decode(&rev)
		pt := admissionv1.PatchTypeJSONPatch
		rev.Response = &admissionv1.AdmissionResponse{UID: rev.Request.UID, Allowed: true, PatchType: &pt,
			Patch: []byte(`[{"op":"add","path":"/spec/initContainers","value":[{"name":"init","image":"skiff.local/toolbox:1"}]}]`)}
		rev.Request = nil
		_ = json.NewEncoder(w).Encode(&rev)
	})
	hook := httptest.NewTLSServer(mux)
	t.Cleanup(hook.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: hook.Certificate().Raw})
	cfg := &regv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "init"}, Webhooks: []regv1.MutatingWebhook{{
		Name: "init.test.skiff", ClientConfig: regv1.WebhookClientConfig{URL: ptr.To(hook.URL + "/init"), CABundle: ca},
		Rules: []regv1.RuleWithOperations{{Operations: []regv1.OperationType{regv1.Create},
			Rule: regv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
		SideEffects: ptr.To(regv1.SideEffectClassNone), AdmissionReviewVersions: []string{"v1"},
	}}}
	if _, err := srv.Client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n := 0
	var got *corev1.Pod
	err := eventually(t, func() error {
		n++
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", n)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "skiff.local/toolbox:1"}}}}
		var err error
		got, err = srv.Client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{})
		if err == nil && len(got.Spec.InitContainers) == 0 {
			return fmt.Errorf("not mutated yet")
		}
		return err
	}, func(err error) bool { return err == nil })
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Spec.InitContainers[0]; c.ImagePullPolicy == "" || c.TerminationMessagePolicy == "" {
		t.Errorf("the webhook's init container was not defaulted: %+v", c)
	}
}
