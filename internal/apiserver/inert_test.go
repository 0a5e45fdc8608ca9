package apiserver_test

import (
	"context"
	"strings"
	"testing"

	resourcev1 "k8s.io/api/resource/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/testserver"
)

// warnings collects the Warning headers a client receives.
type warnings struct{ got []string }

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) { w.got = append(w.got, text) }

// TestInertKindsWorkAndSayTheyDoNothing drives kinds skiff stores without acting on
// them: the usual API semantics hold (status subresource included), and every write
// warns that nothing acts on the object.
func TestInertKindsWorkAndSayTheyDoNothing(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	cfg := rest.CopyConfig(srv.Config)
	w := &warnings{}
	cfg.WarningHandler = w
	c := kubernetes.NewForConfigOrDie(cfg)

	rule, err := c.ResourceV1().DeviceTaintRules().Create(ctx, &resourcev1.DeviceTaintRule{
		ObjectMeta: metav1.ObjectMeta{Name: "rule"},
		Spec:       resourcev1.DeviceTaintRuleSpec{Taint: resourcev1.DeviceTaint{Key: "example.com/broken", Effect: resourcev1.DeviceTaintEffectNoSchedule}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.got) != 1 || !strings.Contains(w.got[0], "no dynamic resource allocation") {
		t.Errorf("warnings on create = %q, want the inert warning", w.got)
	}
	rule.Status.Conditions = []metav1.Condition{{Type: "EvictionInProgress", Status: "False", Reason: "NoEffect", LastTransitionTime: metav1.Now()}}
	if rule, err = c.ResourceV1().DeviceTaintRules().UpdateStatus(ctx, rule, metav1.UpdateOptions{}); err != nil || len(rule.Status.Conditions) != 1 {
		t.Fatalf("status update: %v %+v", err, rule.Status)
	}
	w.got = nil
	if _, err := c.ResourceV1().DeviceTaintRules().Get(ctx, "rule", metav1.GetOptions{}); err != nil || len(w.got) != 0 {
		t.Errorf("get: err=%v warnings=%q, want none on reads", err, w.got)
	}

	claim := &resourcev1.ResourceClaim{ObjectMeta: metav1.ObjectMeta{Name: "gpu"}, Spec: resourcev1.ResourceClaimSpec{}}
	if _, err := c.ResourceV1().ResourceClaims("default").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	list, err := c.ResourceV1().ResourceClaims("").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list claims: %v %d", err, len(list.Items))
	}
	if err := c.ResourceV1().ResourceClaims("default").DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
}
