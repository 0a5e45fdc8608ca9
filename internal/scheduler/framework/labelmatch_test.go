package framework

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestLabelMatcher checks the fast path agrees with the selector it stands for.
func TestLabelMatcher(t *testing.T) {
	sel := func(ls *metav1.LabelSelector) labels.Selector {
		s, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	pods := []map[string]string{nil, {"app": "web"}, {"app": "web", "tier": "fe"}, {"app": "db"}, {"tier": "fe"}}
	tests := []struct {
		name string
		sel  labels.Selector
		fast bool
	}{
		{"matchLabels", sel(&metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}), true},
		{"two labels", sel(&metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "fe"}}), true},
		{"In one value", sel(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web"}}}}), true},
		{"In two values", sel(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpIn, Values: []string{"web", "db"}}}}), false},
		{"NotIn", sel(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "app", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"web"}}}}), false},
		{"empty selects all", labels.Everything(), true},
		{"nothing", labels.Nothing(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := NewLabelMatcher(tt.sel)
			if m.fast != tt.fast {
				t.Errorf("fast = %v, want %v", m.fast, tt.fast)
			}
			for _, p := range pods {
				if got, want := m.Matches(p), tt.sel.Matches(labels.Set(p)); got != want {
					t.Errorf("labels %v: got %v, want %v", p, got, want)
				}
			}
		})
	}
}
