package apiserver

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/store"
)

// BenchmarkCreateVsEtcd drives ConfigMap creates through skiff and raw puts into a
// throwaway etcd (configured as skiff's embedded member, in this process) at the
// same open-loop rates, alternating in one run so both see the same machine. A
// request's latency counts from the moment it was scheduled to be sent, so a
// server that falls behind is charged for the queue it builds.
func BenchmarkCreateVsEtcd(b *testing.B) {
	_, c := start(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	etcd, err := store.StartEmbedded(ctx, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(etcd.Close)
	value := strings.Repeat("x", 256)
	const seconds = 5
	for _, rate := range []int{200, 500, 1000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				n := rate * seconds
				raw, err := openLoop(rate, n, func(j int) error {
					_, err := etcd.Client.Put(context.Background(), fmt.Sprintf("/bench/%d/%d/%d", rate, i, j), value)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				api, err := openLoop(rate, n, func(j int) error {
					cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("cm-%d-%d-%d", rate, i, j)}, Data: map[string]string{"k": value}}
					_, err := c.CoreV1().ConfigMaps("default").Create(context.Background(), cm, metav1.CreateOptions{})
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				e99, s99 := percentile(raw, 0.99), percentile(api, 0.99)
				b.ReportMetric(ms(e99), "etcd-p99-ms")
				b.ReportMetric(ms(s99), "skiff-p99-ms")
				b.ReportMetric(ms(percentile(api, 0.50)), "skiff-p50-ms")
				b.ReportMetric(float64(s99)/float64(e99), "p99-ratio")
			}
		})
	}
}

// openLoop starts n calls at rate per second, each on its own goroutine at its
// scheduled time whatever the earlier ones are doing, and returns every call's
// latency from its scheduled start.
func openLoop(rate, n int, call func(i int) error) ([]time.Duration, error) {
	lat := make([]time.Duration, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * time.Second / time.Duration(rate))
		time.Sleep(time.Until(at))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := call(i); err != nil {
				errs <- err
			}
			lat[i] = time.Since(at)
		}(i)
	}
	wg.Wait()
	close(errs)
	return lat, <-errs
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
