package ingress

import (
	"io"
	"net/http"
	"sort"
	"sync"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
)

// BenchmarkProxy sends the same small GET to a loopback backend directly and
// through the ingress, with 8 keep-alive clients each, and reports both rates,
// both p99 latencies and their ratios.
func BenchmarkProxy(b *testing.B) {
	backend, p := backendServer(b, "bench")
	ing := ingressObj("bench", time.Unix(1, 0), rule("", path("/", networkingv1.PathTypePrefix, "web")))
	h := start(b, append(exposed("web", 80, p), ing)...)

	direct := measure(b, h.clientFor(backend.Listener.Addr().String()), b.N)
	proxied := measure(b, h.clientFor(h.http), b.N)
	b.ReportMetric(direct.rate, "direct-req/s")
	b.ReportMetric(proxied.rate, "proxy-req/s")
	b.ReportMetric(float64(direct.p99.Microseconds()), "direct-p99-µs")
	b.ReportMetric(float64(proxied.p99.Microseconds()), "proxy-p99-µs")
	b.ReportMetric(proxied.rate/direct.rate, "throughput-ratio")
	b.ReportMetric(float64(proxied.p99)/float64(direct.p99), "p99-ratio")
}

type load struct {
	rate float64
	p99  time.Duration
}

// measure sends n requests over 8 concurrent connections.
func measure(b *testing.B, c *http.Client, n int) load {
	const workers = 8
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = workers
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				t0 := time.Now()
				resp, err := c.Get("http://bench.example.com/")
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return load{rate: float64(n) / took.Seconds(), p99: lat[n*99/100]}
}
