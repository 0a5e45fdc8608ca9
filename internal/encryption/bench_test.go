package encryption

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"
)

// BenchmarkSecret compares Secret writes and reads (through the store, to the
// embedded etcd and back) with encryption at rest on and off, reporting the p99
// latency beside the mean. Compare plain/* with aesgcm/*.
func BenchmarkSecret(b *testing.B) {
	for _, mode := range []struct {
		name    string
		encrypt bool
	}{{"plain", false}, {"aesgcm", true}} {
		b.Run(mode.name+"/create", func(b *testing.B) {
			c := newCluster(b, mode.encrypt)
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := c.secrets.Create(ctx, secret(fmt.Sprint("s", i), "benchmark-value-0123456789abcdef"), 0); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			reportP99(b, lat)
		})
		b.Run(mode.name+"/read", func(b *testing.B) {
			c := newCluster(b, mode.encrypt)
			ctx := context.Background()
			if _, err := c.secrets.Create(ctx, secret("s", "benchmark-value-0123456789abcdef"), 0); err != nil {
				b.Fatal(err)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				if _, err := c.secrets.Get(ctx, "ns", "s"); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			reportP99(b, lat)
		})
	}
}

func reportP99(b *testing.B, lat []time.Duration) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
