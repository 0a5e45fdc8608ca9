package clusterroleaggregation

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func role(name string, labels map[string]string, verbs ...string) *rbacv1.ClusterRole {
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Rules: []rbacv1.PolicyRule{{Verbs: verbs, APIGroups: []string{""}, Resources: []string{"pods"}}}}
}

func TestAggregate(t *testing.T) {
	view := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "view"},
		AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"to-view": "true"}}}},
		Rules:           []rbacv1.PolicyRule{{Verbs: []string{"stale"}}}}
	all := []*rbacv1.ClusterRole{
		view,
		role("b", map[string]string{"to-view": "true"}, "list"),
		role("a", map[string]string{"to-view": "true"}, "get"),
		role("dup", map[string]string{"to-view": "true"}, "get"),
		role("other", map[string]string{"to-edit": "true"}, "delete"),
	}
	got := Aggregate(view, all)
	want := []rbacv1.PolicyRule{
		{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}},
		{Verbs: []string{"list"}, APIGroups: []string{""}, Resources: []string{"pods"}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("aggregated rules (-want +got):\n%s", d)
	}
}
