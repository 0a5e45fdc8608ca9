package dns

import (
	"fmt"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// BenchmarkQueries measures cluster-name answers per second over UDP on loopback,
// against a cluster of 1,000 services, with several clients in parallel.
func BenchmarkQueries(b *testing.B) {
	var objs []runtime.Object
	for i := range 1000 {
		objs = append(objs, service(fmt.Sprintf("ns%d", i%10), fmt.Sprintf("svc%d", i),
			fmt.Sprintf("10.96.%d.%d", i/250, i%250+1), port("http", corev1.ProtocolTCP, 80)))
	}
	addr, _ := startServer(b, Config{}, objs...)
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("svc%d.ns%d.svc.cluster.local.", i*10, (i*10)%10)
	}
	b.SetParallelism(4)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		c := &mdns.Client{Net: "udp", Timeout: 2 * time.Second}
		conn, err := c.Dial(addr)
		if err != nil {
			b.Error(err)
			return
		}
		defer conn.Close()
		m := new(mdns.Msg)
		for i := 0; pb.Next(); i++ {
			m.SetQuestion(names[i%len(names)], mdns.TypeA)
			resp, _, err := c.ExchangeWithConn(m, conn)
			if err != nil || len(resp.Answer) != 1 {
				b.Errorf("query %s: %v %v", names[i%len(names)], err, resp)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "queries/s")
}
