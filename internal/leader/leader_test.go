package leader

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

// Two instances on one Lease: only one runs at a time, and when the leader stops
// (releasing the Lease) the other takes over.
func TestOneLeaderAtATimeAndTakeover(t *testing.T) {
	client := fake.NewClientset()
	var running, most atomic.Int32
	started := make(chan string, 2)
	run := func(id string) func(context.Context) {
		return func(ctx context.Context) {
			n := running.Add(1)
			if n > most.Load() {
				most.Store(n)
			}
			started <- id
			<-ctx.Done()
			running.Add(-1)
		}
	}
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	errA, errB := make(chan error, 1), make(chan error, 1)
	go func() { errA <- Run(ctxA, client, "kube-system", "test", "a", run("a")) }()
	if got := waitStarted(t, started); got != "a" {
		t.Fatalf("first leader = %q, want a", got)
	}
	go func() { errB <- Run(ctxB, client, "kube-system", "test", "b", run("b")) }()
	select {
	case id := <-started:
		t.Fatalf("%s started while a leads", id)
	case <-time.After(3 * time.Second):
	}
	stopA()
	if err := <-errA; err != nil {
		t.Fatalf("a stopped on request, Run returned %v", err)
	}
	if got := waitStarted(t, started); got != "b" {
		t.Fatalf("after a stopped, leader = %q, want b", got)
	}
	if most.Load() != 1 {
		t.Errorf("%d instances ran at once", most.Load())
	}
	stopB()
	if err := <-errB; err != nil {
		t.Errorf("b: %v", err)
	}
}

func waitStarted(t *testing.T, started <-chan string) string {
	t.Helper()
	select {
	case id := <-started:
		return id
	case <-time.After(10 * time.Second):
		t.Fatal("no instance started leading")
		return ""
	}
}

func TestIdentity(t *testing.T) {
	if got := Identity("x"); got != "x" {
		t.Errorf("Identity(x) = %q", got)
	}
	if a, b := Identity(""), Identity(""); a == b || a == "" {
		t.Errorf("generated identities %q and %q should differ", a, b)
	}
}
