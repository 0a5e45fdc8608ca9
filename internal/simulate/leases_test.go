package simulate

import (
	"context"
	"errors"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// TestRenewLeaseWritesOnce: the first heartbeat creates the lease, later ones
// are one update each from the lease last written, with no read before it.
func TestRenewLeaseWritesOnce(t *testing.T) {
	client := fake.NewClientset()
	s := &simulator{client: client}
	ctx := context.Background()
	for range 3 {
		if err := s.renewLease(ctx, "sim-0"); err != nil {
			t.Fatal(err)
		}
	}
	var verbs []string
	for _, a := range client.Actions() {
		verbs = append(verbs, a.GetVerb())
	}
	if want := []string{"get", "create", "update", "update"}; !slices.Equal(verbs, want) {
		t.Errorf("requests %v, want %v", verbs, want)
	}
	// A failed write forgets the lease, so the next heartbeat reads it again.
	client.PrependReactor("update", "leases", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errors.New("conflict")
	})
	if err := s.renewLease(ctx, "sim-0"); err == nil {
		t.Fatal("update error not returned")
	}
	client.ClearActions()
	_ = s.renewLease(ctx, "sim-0")
	if a := client.Actions(); len(a) == 0 || a[0].GetVerb() != "get" {
		t.Errorf("after a failed write, first request %v, want a get", a)
	}
}
