package ha_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/test/e2e/framework"
)

// BenchmarkAPIWrites compares ConfigMap creates on one server with creates spread
// over the three servers of this package's cluster (every write then commits on
// a quorum of two etcd members), in the same run on the same machine:
//
//	go test -run XXX -bench APIWrites -benchtime 3000x ./test/e2e/ha/
func BenchmarkAPIWrites(b *testing.B) {
	dir := b.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "single"), 0o700); err != nil {
		b.Fatal(err)
	}
	single, err := framework.StartServer(filepath.Join(dir, "single"), "--disable-agent", "--bind-address", "127.0.0.1", "--etcd-snapshot-interval", "0")
	if err != nil {
		b.Fatal(err)
	}
	defer single.Stop()
	rc, err := clientcmd.BuildConfigFromFlags("", single.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	rc.QPS, rc.Burst = 5000, 10000
	one, err := kubernetes.NewForConfig(rc)
	if err != nil {
		b.Fatal(err)
	}
	var three []kubernetes.Interface
	for _, s := range servers {
		three = append(three, s.Client)
	}
	b.Run("1-server", func(b *testing.B) { benchWrites(b, []kubernetes.Interface{one}) })
	b.Run("3-servers", func(b *testing.B) { benchWrites(b, three) })
}

// benchWrites creates b.N ConfigMaps from 16 workers, round-robin over clients.
func benchWrites(b *testing.B, clients []kubernetes.Interface) {
	ns := fmt.Sprintf("bench-%d-%d", len(clients), time.Now().UnixNano())
	if _, err := clients[0].CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	for range 16 {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				c := clients[int(i)%len(clients)]
				t0 := time.Now()
				_, err := c.CoreV1().ConfigMaps(ns).Create(context.Background(),
					&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d", i)}, Data: map[string]string{"k": "v"}}, metav1.CreateOptions{})
				lat[i] = time.Since(t0)
				if err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d creates failed", n, b.N)
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
	_ = clients[0].CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
}
