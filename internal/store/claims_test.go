package store

import (
	"net/netip"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/resources"
)

// TestClaimsKeepTwoServersApart: two allocators, as two API servers would hold,
// share one etcd and race for every address of a small range; each address goes
// to exactly one, and the loser of each race moves on to another. (Without the
// shared claims each would hand out all 30.)
func TestClaimsKeepTwoServersApart(t *testing.T) {
	e := startTestEtcd(t)
	s := New(e.Client, runtime.NewScheme())
	var servers [2]*resources.IPAllocator
	for i := range servers {
		a, err := resources.NewIPAllocator("10.99.0.0/27")
		if err != nil {
			t.Fatal(err)
		}
		a.Share(s.Claims("clusterips/"))
		servers[i] = a
	}
	var mu sync.Mutex
	got := map[netip.Addr]int{}
	var wg sync.WaitGroup
	for _, a := range servers {
		wg.Go(func() {
			for {
				ip, err := a.Next()
				if err != nil {
					return // range is full
				}
				mu.Lock()
				got[ip]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != 30 { // 32 addresses minus the network and broadcast ones
		t.Fatalf("%d addresses handed out, want 30", len(got))
	}
	for ip, n := range got {
		if n != 1 {
			t.Errorf("%s handed out %d times", ip, n)
		}
	}
}
