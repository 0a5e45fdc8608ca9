package persistentvolume_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	vb "skiff/internal/volumebinding"
)

// BenchmarkProvisionToBound creates 200 local-path claims at once, each already
// carrying the node the scheduler selected (half on n1, half on n2), and reports
// the time from a claim's create request to its Bound phase: p50 and p99 over
// the claims, through the real API server, PV controller and provisioner
// (directories on the local disk).
func BenchmarkProvisionToBound(b *testing.B) {
	const claims = 200
	s := startStorage(b)
	ctx := context.Background()
	var all []time.Duration
	b.ResetTimer()
	for i := range b.N {
		ns := fmt.Sprintf("bench-%d", i)
		createNS(b, s.c, ns)
		all = append(all, s.provisionBurst(b, ctx, ns, claims)...)
	}
	b.StopTimer()
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(all[len(all)*99/100].Milliseconds()), "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// provisionBurst creates n claims concurrently and returns each one's create-to-Bound time.
func (s *storageCluster) provisionBurst(b *testing.B, ctx context.Context, ns string, n int) []time.Duration {
	w, err := s.c.CoreV1().PersistentVolumeClaims(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	var mu sync.Mutex
	started := make(map[string]time.Time, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c := newClaim(fmt.Sprintf("c-%d", i), nil, "1Mi")
			c.Annotations = map[string]string{vb.AnnSelectedNode: fmt.Sprintf("n%d", 1+i%2)}
			mu.Lock()
			started[c.Name] = time.Now()
			mu.Unlock()
			if _, err := s.c.CoreV1().PersistentVolumeClaims(ns).Create(ctx, c, metav1.CreateOptions{}); err != nil {
				b.Error(err)
			}
		}()
	}
	out := make([]time.Duration, 0, n)
	bound := map[string]bool{}
	timeout := time.After(2 * time.Minute)
	for len(bound) < n {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				b.Fatal("watch closed")
			}
			c, isClaim := ev.Object.(*corev1.PersistentVolumeClaim)
			if !isClaim || ev.Type == watch.Deleted || c.Status.Phase != corev1.ClaimBound || bound[c.Name] {
				continue
			}
			bound[c.Name] = true
			mu.Lock()
			out = append(out, time.Since(started[c.Name]))
			mu.Unlock()
		case <-timeout:
			b.Fatalf("%d of %d claims bound after 2m", len(bound), n)
		}
	}
	wg.Wait()
	return out
}
