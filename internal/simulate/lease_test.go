package simulate

import (
	"context"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestRenewLeaseWritesOnce renews a node's lease as the kubelet does: the first
// renewal reads and creates it, later ones only update the copy they wrote, and
// one whose write fails (the lease was deleted) reads it again.
func TestRenewLeaseWritesOnce(t *testing.T) {
	ctx := context.Background()
	client := fake.NewClientset()
	s := &simulator{client: client}
	verbs := func() []string {
		var out []string
		for _, a := range client.Actions() {
			if a.GetResource().Resource == "leases" {
				out = append(out, a.GetVerb())
			}
		}
		client.ClearActions()
		return out
	}
	for _, step := range []struct {
		name   string
		before func()
		want   []string
	}{
		{name: "first renewal creates", want: []string{"get", "create"}},
		{name: "next renewal only updates", want: []string{"update"}},
		{name: "and the next", want: []string{"update"}},
		{name: "a deleted lease is read and created again", before: func() {
			if err := client.CoordinationV1().Leases(leaseNamespace).Delete(ctx, "n1", metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			client.ClearActions()
		}, want: []string{"update", "get", "create"}},
		{name: "then updates again", want: []string{"update"}},
	} {
		if step.before != nil {
			step.before()
		}
		if err := s.renewLease(ctx, "n1"); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if got := verbs(); !slices.Equal(got, step.want) {
			t.Errorf("%s: requests %v, want %v", step.name, got, step.want)
		}
	}
	l, err := client.CoordinationV1().Leases(leaseNamespace).Get(ctx, "n1", metav1.GetOptions{})
	if err != nil || l.Spec.RenewTime == nil || *l.Spec.HolderIdentity != "n1" {
		t.Fatalf("lease after renewals: %+v, %v", l, err)
	}
}
