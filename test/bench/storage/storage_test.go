// Package storage benchmarks dynamic provisioning on one real node: `skiff server`
// with its own agent, whose local-path provisioner makes a directory and a
// PersistentVolume per claim, and the time from each claim's create request to
// the claim reported Bound, as a client watching the API sees it.
//
//	make build
//	flock /tmp/skiff-e2e.lock go test ./test/bench/storage -run '^$' -bench . -benchtime 1x -timeout 10m
//
// The local-path class binds WaitForFirstConsumer (a directory lives on one node),
// so each claim is created already carrying the node the scheduler would select
// (volume.kubernetes.io/selected-node): provisioning starts at once, as for an
// Immediate class, and no pod start-up is measured. It needs root (the node agent)
// and prints p50/p99 create→Bound, claims/s and the load average.
package storage

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	vb "skiff/internal/volumebinding"
	"skiff/test/e2e/framework"
)

const nodeName = "bench-storage"

// node is the server with its own node that every benchmark here shares.
var node framework.BenchNode

func TestMain(m *testing.M) {
	os.Exit(framework.RunBenchNode(m, &node, "storage", nodeName, "10.247.0.0/16", "10.99.0.0/16"))
}

// BenchmarkProvision200Claims creates 200 local-path claims at once and reports
// create→Bound p50 and p99; then deletes them and waits for every volume to go
// (reclaim policy Delete), so the next pass starts from nothing.
func BenchmarkProvision200Claims(b *testing.B) {
	if b.N > 1 {
		b.Skip("one pass is the measurement; use -benchtime 1x")
	}
	const n = 200
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ns := fmt.Sprintf("provision-%d", time.Now().UnixNano()%100000)
	if _, err := node.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	defer deleteClaims(b, ns)
	w, err := node.Client.CoreV1().PersistentVolumeClaims(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Stop()
	pvw, err := node.Client.CoreV1().PersistentVolumes().Watch(ctx, metav1.ListOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer pvw.Stop()
	load0 := loadAvg()
	var mu sync.Mutex
	created := make(map[string]time.Time, n)
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := claim(i)
			mu.Lock()
			created[c.Name] = time.Now()
			mu.Unlock()
			if _, err := node.Client.CoreV1().PersistentVolumeClaims(ns).Create(ctx, c, metav1.CreateOptions{}); err != nil {
				b.Error(err)
			}
		}()
	}
	made, bound := collect(b, ctx, w, pvw, ns, n, &mu, created)
	wg.Wait()
	total := time.Since(start)
	pct := func(d []time.Duration, p float64) time.Duration {
		slices.Sort(d)
		return d[min(len(d)-1, int(float64(len(d))*p))]
	}
	b.ReportMetric(pct(bound, 0.5).Seconds(), "bound-p50-s")
	b.ReportMetric(pct(bound, 0.99).Seconds(), "bound-p99-s")
	b.ReportMetric(float64(n)/total.Seconds(), "claims/s")
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	b.Logf("%d claims: create→volume made p50 %v p99 %v; create→Bound p50 %v p99 %v; all bound in %v (%.1f claims/s); load average before %s, after %s",
		n, r(pct(made, 0.5)), r(pct(made, 0.99)), r(pct(bound, 0.5)), r(pct(bound, 0.99)), r(total), float64(n)/total.Seconds(), load0, loadAvg())
}

func claim(i int) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("data-%d", i),
			Annotations: map[string]string{vb.AnnSelectedNode: nodeName}},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Mi")}},
		},
	}
}

// collect reads the watches until every claim was seen Bound and returns each
// claim's create→volume made (the provisioner's PersistentVolume appears) and
// create→Bound times.
func collect(b *testing.B, ctx context.Context, claims, volumes watch.Interface, ns string, n int, mu *sync.Mutex, created map[string]time.Time) (made, bound []time.Duration) {
	seen, seenPV := map[string]bool{}, map[string]bool{}
	since := func(claim string) time.Duration {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		return now.Sub(created[claim])
	}
	tick := time.NewTicker(10 * time.Second)
	defer tick.Stop()
	for len(seen) < n || len(seenPV) < n {
		select {
		case ev, ok := <-claims.ResultChan():
			if !ok {
				b.Fatalf("watch ended: %d of %d bound", len(seen), n)
			}
			c, isClaim := ev.Object.(*corev1.PersistentVolumeClaim)
			if !isClaim || ev.Type == watch.Deleted || c.Status.Phase != corev1.ClaimBound || seen[c.Name] {
				continue
			}
			seen[c.Name] = true
			bound = append(bound, since(c.Name))
		case ev, ok := <-volumes.ResultChan():
			if !ok {
				b.Fatalf("watch ended: %d of %d volumes made", len(seenPV), n)
			}
			pv, isPV := ev.Object.(*corev1.PersistentVolume)
			if !isPV || ev.Type != watch.Added || pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.Namespace != ns || seenPV[pv.Spec.ClaimRef.Name] {
				continue
			}
			seenPV[pv.Spec.ClaimRef.Name] = true
			made = append(made, since(pv.Spec.ClaimRef.Name))
		case <-tick.C:
			fmt.Fprintf(os.Stderr, "bench: %d volumes made, %d of %d bound\n", len(seenPV), len(seen), n)
		case <-ctx.Done():
			b.Fatalf("not all claims bound: %d volumes made, %d of %d bound (see %s)", len(seenPV), len(seen), n, node.Cluster.LogPath)
		}
	}
	return made, bound
}

// deleteClaims deletes the namespace and waits until the provisioner has removed
// every volume it made.
func deleteClaims(b *testing.B, ns string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	_ = node.Client.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{})
	for ctx.Err() == nil {
		l, err := node.Client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{})
		if err == nil && len(l.Items) == 0 {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.Error("volumes not deleted within 3 minutes")
}

func loadAvg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}
