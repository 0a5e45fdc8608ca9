package apiserver

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"skiff/internal/auth"
)

// TestAuditOffCostsNothing: with no audit log, the audit steps on the request path
// allocate nothing and admission plugins are not wrapped.
func TestAuditOffCostsNothing(t *testing.T) {
	a := &API{}
	ctx := context.Background()
	pod := &corev1.Pod{}
	q := request{Verb: "create", Version: "v1", Resource: "pods", Namespace: "default"}
	user := &auth.User{Name: "u"}
	allocs := testing.AllocsPerRun(100, func() {
		a.auditDecision(ctx, false, "no")
		a.auditRequestObject(ctx, pod, q)
		a.auditResponseObject(ctx, pod, schema.GroupVersion{Version: "v1"})
		a.auditImpersonation(ctx, user)
	})
	if allocs != 0 {
		t.Fatalf("audit steps allocate %v times with the audit log off", allocs)
	}
	p := nodeRestriction{}
	if got := a.auditedPlugin(p); got != p {
		t.Fatalf("plugin wrapped with the audit log off: %T", got)
	}
}
