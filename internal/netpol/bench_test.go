package netpol

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/go-cmp/cmp"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/knftables"

	"skiff/internal/nfttable"
)

// bigState is 1,000 pods in 50 namespaces over 10 nodes (100 on n0, whose table
// is built) with 200 policies: per namespace a deny-all, an allow from the
// namespace's clients on a named port, an allow from the monitoring namespaces,
// and an egress policy to the namespace's web pods on a named port, to an ipBlock
// and to the DNS.
func bigState() State {
	st := State{NodeName: "n0"}
	st.DNSService, st.DNSSlices = dnsState("192.0.2.1", 53)
	for n := range 50 {
		ns := fmt.Sprintf("team%d", n)
		st.Namespaces = append(st.Namespaces, namespace(ns, "tier", fmt.Sprint(n%3)))
		for i := range 20 {
			role := []string{"web", "client", "db", "cache"}[i%4]
			// 198.18.0.0/15 is for benchmarks: a kernel table holding
			// these addresses filters no real traffic.
			st.Pods = append(st.Pods, pod(fmt.Sprintf("%s/p%d@n%d 198.18.%d.%d app=%s,idx=%d", ns, i, (n*20+i)%10,
				n, i+2, role, i), "http:TCP:8080", "dns:UDP:53"))
		}
		st.Policies = append(st.Policies,
			policy(ns, "deny", "", types(in, eg)),
			policy(ns, "web", "app=web", types(in), ingress(ports("http", "443"), podPeer("app=client"))),
			policy(ns, "monitoring", "", types(in), ingress(ports("9090-9099"), nsPeer("tier=0", "-"))),
			policy(ns, "egress", "app=client", types(eg),
				egress(ports("http"), podPeer("app=web")),
				egress(ports("443"), blockPeer("0.0.0.0/0", "10.0.0.0/8", "169.254.0.0/16")),
				egress(ports("53/UDP"), nsPeer("kubernetes.io/metadata.name=kube-system", "k8s-app=kube-dns"))))
	}
	return st
}

// rulesetSize counts what the kernel holds: rules and set elements.
func rulesetSize(r *nfttable.Ruleset) (rules, elements int) {
	for _, c := range r.Chains {
		rules += len(c.Rules)
	}
	for _, s := range r.Sets {
		elements += len(s.Elements)
	}
	return rules, elements
}

// BenchmarkBuild1000Pods200Policies computes the table from the state.
func BenchmarkBuild1000Pods200Policies(b *testing.B) {
	st := bigState()
	var r *nfttable.Ruleset
	for b.Loop() {
		r = Build(st)
	}
	rules, elements := rulesetSize(r)
	b.ReportMetric(float64(rules), "rules")
	b.ReportMetric(float64(elements), "elements")
	b.ReportMetric(float64(len(r.Sets)), "sets")
}

// BenchmarkSync1000Pods200Policies is a sync as the enforcer does it, into
// knftables' fake: the first (full) one, and the one after a pod's label changed
// (compute the whole table again, then patch), which is what a relabel costs.
func BenchmarkSync1000Pods200Policies(b *testing.B) {
	st := bigState()
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			nft := knftables.NewFake(knftables.IPv4Family, "bench")
			if _, _, err := nfttable.Apply(context.Background(), nft, nil, Build(st)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("relabel", func(b *testing.B) {
		nft := knftables.NewFake(knftables.IPv4Family, "bench")
		applied := Build(st)
		if _, _, err := nfttable.Apply(context.Background(), nft, nil, applied); err != nil {
			b.Fatal(err)
		}
		relabelled := *st.Pods[0] // on n0
		relabelled.Labels = map[string]string{"app": "client"}
		states := [2]State{st, st}
		states[1].Pods = append([]*corev1.Pod{&relabelled}, st.Pods[1:]...)
		ops, i := 0, 0
		for b.Loop() {
			i++
			want := Build(states[i%2])
			n, full, err := nfttable.Apply(context.Background(), nft, applied, want)
			if err != nil || full {
				b.Fatalf("patch failed (full=%v): %v", full, err)
			}
			applied, ops = want, n
		}
		b.ReportMetric(float64(ops), "ops/sync")
	})
}

// BenchmarkKernelSync1000Pods200Policies is the same into the kernel (root and
// the nft binary needed): a full load of the table, and the patch of a relabel.
func BenchmarkKernelSync1000Pods200Policies(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	table := fmt.Sprintf("skiff-bench-netpol-%d", os.Getpid())
	nft, err := knftables.New(knftables.IPv4Family, table)
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(func() { _ = nfttable.DeleteTable(table) })
	st := bigState()
	full := Build(st)
	relabelled := *st.Pods[0]
	relabelled.Labels = map[string]string{"app": "client"}
	st.Pods = append([]*corev1.Pod{&relabelled}, st.Pods[1:]...)
	changed := Build(st)
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := nfttable.Apply(context.Background(), nft, nil, full); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("relabel", func(b *testing.B) {
		for b.Loop() {
			for _, step := range [][2]*nfttable.Ruleset{{full, changed}, {changed, full}} {
				if _, _, err := nfttable.Apply(context.Background(), nft, step[0], step[1]); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// A relabel must cost set elements only: no chain is touched.
func TestRelabelPatchesSetsOnly(t *testing.T) {
	st := bigState()
	before := Build(st)
	relabelled := *st.Pods[0]
	relabelled.Labels = map[string]string{"app": "client"}
	st.Pods = append([]*corev1.Pod{&relabelled}, st.Pods[1:]...)
	after := Build(st)
	nft := knftables.NewFake(knftables.IPv4Family, "t")
	if _, _, err := nfttable.Apply(context.Background(), nft, nil, before); err != nil {
		t.Fatal(err)
	}
	tx := nft.NewTransaction()
	if !nfttable.Plan(tx, before, after) {
		t.Fatal("plan refused to patch")
	}
	if err := nft.Run(context.Background(), tx); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(tx.String()), "\n") {
		if line != "add table ip t" && !strings.HasPrefix(line, "add element ") && !strings.HasPrefix(line, "delete element ") {
			t.Errorf("a relabel changed more than set elements: %q", line)
		}
	}
	if tx.NumOperations() < 3 {
		t.Errorf("a relabel from web to client should move the pod between sets:\n%s", tx)
	}
	fresh := knftables.NewFake(knftables.IPv4Family, "t")
	if _, _, err := nfttable.Apply(context.Background(), fresh, nil, after); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sortedLines(fresh.Dump()), sortedLines(nft.Dump())); diff != "" {
		t.Errorf("patched table differs from a rebuild (-rebuild +patched):\n%s", diff)
	}
}

// A policy added or removed rewrites its own chain and the dispatch chain only.
func TestPolicyChangeTouchesItsChains(t *testing.T) {
	st := bigState()
	before := Build(st)
	st.Policies = append(st.Policies[:1:1], st.Policies[2:]...) // team0/web goes
	after := Build(st)
	tx := knftables.NewFake(knftables.IPv4Family, "t").NewTransaction()
	nfttable.Plan(tx, before, after)
	touched := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(tx.String()), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[1] == "rule" || f[1] == "chain") {
			touched[f[4]] = true
		}
	}
	if diff := cmp.Diff(map[string]bool{chainIngress: true, "in-team0/web": true}, touched); diff != "" {
		t.Errorf("removing team0/web touched other chains (-want +got):\n%s\n%s", diff, tx)
	}
}

// sortedLines puts a dump in order: the fake lists elements in insertion order.
func sortedLines(s string) []string {
	lines := strings.Split(s, "\n")
	slices.Sort(lines)
	return lines
}
