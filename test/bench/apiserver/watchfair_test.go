package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// BenchmarkWatchBesideWriters: a pod watch shares its client (and so its HTTP/2
// connection) with 256 goroutines that create and bind 10,000 pods, as a
// controller's informers share a connection with its writes. The lag is from a
// binding's response to the watch event that shows the pod bound. conn=own is the
// same load with the watch on a connection of its own, for comparison.
func BenchmarkWatchBesideWriters(b *testing.B) {
	cl, c := start(b)
	b.Run("conn=shared", func(b *testing.B) { watchBesideWriters(b, c, c, "s") })
	cfg, err := clientcmd.BuildConfigFromFlags("", cl.Kubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	// A config with its own Proxy function gets a transport of its own.
	cfg.Proxy = func(*http.Request) (*url.URL, error) { return nil, nil }
	cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf"
	b.Run("conn=own", func(b *testing.B) { watchBesideWriters(b, c, kubernetes.NewForConfigOrDie(cfg), "o") })
}

func watchBesideWriters(b *testing.B, c, wc kubernetes.Interface, prefix string) {
	const pods, writers = 10000, 256
	for i := 0; i < b.N; i++ {
		l, err := wc.CoreV1().Pods("default").List(context.Background(), metav1.ListOptions{Limit: 1})
		if err != nil {
			b.Fatal(err)
		}
		wi, err := wc.CoreV1().Pods("default").Watch(context.Background(), metav1.ListOptions{ResourceVersion: l.ResourceVersion})
		if err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		bound := map[string]time.Time{} // when each binding returned
		seen := map[string]time.Time{}  // when the watch showed it
		all := make(chan struct{})
		go func() {
			defer wi.Stop()
			for ev := range wi.ResultChan() {
				p, ok := ev.Object.(*corev1.Pod)
				if !ok || ev.Type != watch.Modified || p.Spec.NodeName == "" {
					continue
				}
				mu.Lock()
				if _, dup := seen[p.Name]; !dup {
					seen[p.Name] = time.Now()
				}
				n := len(seen)
				mu.Unlock()
				if n == pods {
					close(all)
					return
				}
			}
		}()
		t0 := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for j := w; j < pods; j += writers {
					name := fmt.Sprintf("%s%d-%d", prefix, i, j)
					if _, err := c.CoreV1().Pods("default").Create(context.Background(), pod(name), metav1.CreateOptions{}); err != nil {
						errs <- err
						return
					}
					bind := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: name}, Target: corev1.ObjectReference{Kind: "Node", Name: fmt.Sprintf("n%d", j%100)}}
					if err := c.CoreV1().Pods("default").Bind(context.Background(), bind, metav1.CreateOptions{}); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					bound[name] = time.Now()
					mu.Unlock()
				}
			}(w)
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
		written := time.Since(t0)
		select {
		case <-all:
		case <-time.After(90 * time.Second):
		}
		mu.Lock()
		var lags []time.Duration
		for name, at := range bound {
			if s, ok := seen[name]; ok {
				lags = append(lags, max(s.Sub(at), 0))
			} else {
				lags = append(lags, time.Since(at)) // never seen: at least this late
			}
		}
		b.ReportMetric(float64(len(seen)), "seen")
		mu.Unlock()
		b.ReportMetric(float64(2*pods)/written.Seconds(), "writes/s")
		b.ReportMetric(ms(percentile(lags, 0.50)), "lag-p50-ms")
		b.ReportMetric(ms(percentile(lags, 0.99)), "lag-p99-ms")
	}
}
