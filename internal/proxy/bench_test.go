package proxy

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/knftables"

	"skiff/internal/nfttable"
)

// bigState is n services with eps endpoints each, half of them NodePorts.
func bigState(n, eps int, shift int) State {
	st := State{NodeName: "n1", ClusterCIDRs: []string{"10.0.0.0/8"}}
	for i := range n {
		name := fmt.Sprintf("svc%d", i)
		opts := []svcOpt{}
		if i%2 == 0 {
			opts = append(opts, nodePort(int32(30000+i)))
		}
		st.Services = append(st.Services, service(name, fmt.Sprintf("172.30.%d.%d", i/250, i%250+1), 80, opts...))
		var list []ep
		for j := range eps {
			list = append(list, ep(fmt.Sprintf("10.%d.%d.%d@n%d", i/250, i%250, j+1+shift, j%3)))
		}
		st.Slices = append(st.Slices, slice(name, corev1.ProtocolTCP, 8080, list...))
	}
	return st
}

func BenchmarkBuild1000x10(b *testing.B) {
	st := bigState(1000, 10, 0)
	for b.Loop() {
		Build(st)
	}
}

// BenchmarkSync1000x10 applies 1,000 services × 10 endpoints to the kernel: the
// full rebuild (first sync or after an error), and the patch after one service
// lost an endpoint (the common case; each iteration is two patches, removing and
// restoring it).
func BenchmarkSync1000x10(b *testing.B) {
	requireNetAdmin(b)
	table := "skiff-bench-" + randomID(b, 4)
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() {
		tx := nft.NewTransaction()
		tx.Delete(&knftables.Table{})
		_ = nft.Run(context.Background(), tx)
	})
	full, _ := Build(bigState(1000, 10, 0))
	changedState := bigState(1000, 10, 0)
	changedState.Slices[7] = slice("svc7", corev1.ProtocolTCP, 8080, "10.0.7.1@n0")
	changed, _ := Build(changedState)
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			tx := nft.NewTransaction()
			tx.Add(&knftables.Table{})
			tx.Delete(&knftables.Table{})
			nfttable.Plan(tx, nil, full)
			if err := nft.Run(context.Background(), tx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("one-endpoint-change", func(b *testing.B) {
		for b.Loop() {
			for _, step := range [][2]*nfttable.Ruleset{{full, changed}, {changed, full}} {
				tx := nft.NewTransaction()
				nfttable.Plan(tx, step[0], step[1])
				if err := nft.Run(context.Background(), tx); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
