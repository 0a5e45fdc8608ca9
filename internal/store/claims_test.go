package store

import (
	"context"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/resources"
)

// TestClaimsKeepTwoServersApart: two allocators, as two API servers would hold,
// share one etcd and race for every port of a small range; each port goes to
// exactly one, and the loser of each race moves on to another. (Without the
// shared claims each would hand out all 30.)
func TestClaimsKeepTwoServersApart(t *testing.T) {
	e := startTestEtcd(t)
	s := New(e.Client, runtime.NewScheme())
	var servers [2]*resources.PortAllocator
	for i := range servers {
		a := resources.NewPortAllocator(30000, 30)
		a.Share(s.Claims("nodeports/"))
		servers[i] = a
	}
	var mu sync.Mutex
	got := map[int]int{}
	var wg sync.WaitGroup
	for _, a := range servers {
		wg.Go(func() {
			for {
				port, err := a.Next()
				if err != nil {
					return // range is full
				}
				mu.Lock()
				got[port]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != 30 {
		t.Fatalf("%d ports handed out, want 30", len(got))
	}
	for port, n := range got {
		if n != 1 {
			t.Errorf("%d handed out %d times", port, n)
		}
	}
}

// TestReleaseRecordOnlyTheOneListed: a record listed, then released and claimed
// again by someone else, is not released by the stale listing.
func TestReleaseRecordOnlyTheOneListed(t *testing.T) {
	e := startTestEtcd(t)
	c := New(e.Client, runtime.NewScheme()).Claims("nodeports/")
	ctx := context.Background()
	for _, v := range []string{"30001", "30002"} {
		if ok, err := c.Claim(v); !ok || err != nil {
			t.Fatalf("claim %s: %v %v", v, ok, err)
		}
	}
	listed, err := c.List(ctx)
	if err != nil || len(listed) != 2 || listed[0].Value != "30001" || listed[1].Value != "30002" {
		t.Fatalf("List: %v, %v", listed, err)
	}
	if err := c.Release("30002"); err != nil {
		t.Fatal(err)
	}
	if ok, err := c.Claim("30002"); !ok || err != nil {
		t.Fatalf("claim again: %v %v", ok, err)
	}
	if ok, err := c.ReleaseRecord(ctx, listed[1]); ok || err != nil {
		t.Fatalf("stale record released: %v %v", ok, err)
	}
	if ok, err := c.ReleaseRecord(ctx, listed[0]); !ok || err != nil {
		t.Fatalf("listed record not released: %v %v", ok, err)
	}
	now, err := c.List(ctx)
	if err != nil || len(now) != 1 || now[0].Value != "30002" || now[0].Created == listed[1].Created {
		t.Fatalf("after the releases: %v, %v; want only the new 30002", now, err)
	}
}
