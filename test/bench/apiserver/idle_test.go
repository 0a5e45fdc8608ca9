package apiserver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// BenchmarkIdleRSS: the resident memory of `skiff server --disable-agent` once
// it is idle: sampled every second over the second half of a minute's idling
// (SKIFF_IDLE_SECONDS changes that), which spans a whole 30 s trim cycle, as the
// mean and the largest sample; the mean's anonymous part (what the server
// allocated), file-backed part (the binary's pages, clean and shared with the
// page cache) and PSS; its live Go heap then (after a GC, from the pprof
// endpoint), and the CPU it used meanwhile (ms per second, in 10 ms clock
// ticks). Each iteration starts a fresh server; -count gives several samples.
// SKIFF_HEAP_PROFILE=file keeps the last idle server's heap profile for `go
// tool pprof`.
//
//	go test -run '^$' -bench IdleRSS -benchtime 1x -count 3 ./test/bench/apiserver
func BenchmarkIdleRSS(b *testing.B) {
	idle := idleTime()
	for i := 0; i < b.N; i++ {
		pprofAddr := freeAddress(b)
		cl, err := framework.StartServer(b.TempDir(), "--disable-agent", "--profiling-address="+pprofAddr)
		if err != nil {
			b.Fatal(err)
		}
		ready, cpu := rssMB(b, cl), procCPU(b, cl.PID())
		mem := idleMemory(b, idle, cl.PID())[0]
		// The CPU an idle server spends (leases, resyncs, trimming its heap).
		b.ReportMetric(float64((procCPU(b, cl.PID())-cpu).Milliseconds())/idle.Seconds(), "idle-cpu-ms/s")
		b.ReportMetric(ready, "ready-rss-MB")
		mem.report(b, "idle-")
		stats := get(b, "http://"+pprofAddr+"/debug/pprof/heap?debug=1&gc=1")
		b.ReportMetric(memStat(b, stats, "HeapInuse")/(1<<20), "idle-heap-inuse-MB")
		b.ReportMetric(memStat(b, stats, "HeapAlloc")/(1<<20), "idle-heap-live-MB")
		b.ReportMetric(memStat(b, stats, "Sys")/(1<<20), "go-sys-MB")
		if path := os.Getenv("SKIFF_HEAP_PROFILE"); path != "" {
			if err := os.WriteFile(path, get(b, "http://"+pprofAddr+"/debug/pprof/heap"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
		cl.Stop()
	}
}

func freeAddress(b *testing.B) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(b *testing.B, url string) []byte {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %v %s", url, err, resp.Status)
	}
	return body
}

// memStat reads "# name = value" from a debug=1 heap profile's runtime.MemStats.
func memStat(b *testing.B, profile []byte, name string) float64 {
	sc := bufio.NewScanner(bytes.NewReader(profile))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), fmt.Sprintf("# %s = ", name)); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatal(err)
			}
			return f
		}
	}
	b.Fatalf("no %s in the heap profile", name)
	return 0
}

// BenchmarkIdleNodeRSS: the same with the server's own node (kubelet, proxy, DNS,
// CNI and the containerd it starts), idle for a minute once the node is Ready:
// the server's and containerd's memory apart, sampled as BenchmarkIdleRSS does. It needs root, containerd,
// runc, nft and the CNI plugins, and must hold the machine-wide e2e lock:
//
//	make build
//	flock /tmp/skiff-e2e.lock go test -run '^$' -bench IdleNodeRSS -benchtime 1x -count 3 ./test/bench/apiserver
func BenchmarkIdleNodeRSS(b *testing.B) {
	if missing := framework.NodePrerequisites(); missing != "" {
		if framework.InCI() {
			b.Fatal("prerequisite missing:", missing)
		}
		b.Skip("prerequisite missing:", missing)
	}
	idle := idleTime()
	for i := 0; i < b.N; i++ {
		idleNode(b, idle)
	}
}

// idleNode starts a server with its node, lets it idle and reports its memory
// and its containerd's; the node is reset and its data removed whatever happens.
func idleNode(b *testing.B, idle time.Duration) {
	dir, err := os.MkdirTemp("", "skiff-bench-idle-")
	if err != nil {
		b.Fatal(err)
	}
	// Removed by hand: a node's data dir may hold mounts until the reset is done.
	defer os.RemoveAll(dir)
	pprofAddr := freeAddress(b)
	cl, err := framework.StartServer(dir, "--node-name", "bench-idle", "--kubelet-port", "0",
		"--dns-port", "0", "--ingress-http-port", "0", "--ingress-https-port", "0",
		"--cluster-cidr", "10.247.0.0/16", "--service-cidr", "10.99.0.0/16", "--profiling-address="+pprofAddr)
	if cl != nil {
		defer cl.Cleanup()
		defer cl.Stop()
	}
	if err != nil {
		b.Fatal(err)
	}
	if err := cl.WaitNodeReady("bench-idle"); err != nil {
		b.Fatal(err)
	}
	pidFile, err := os.ReadFile(filepath.Join(cl.Dir, "agent", "containerd", "containerd.pid"))
	if err != nil {
		b.Fatal(err)
	}
	containerd, err := strconv.Atoi(strings.TrimSpace(string(pidFile)))
	if err != nil {
		b.Fatal(err)
	}
	mem := idleMemory(b, idle, cl.PID(), containerd)
	mem[0].report(b, "skiff-")
	mem[1].report(b, "containerd-")
	b.ReportMetric(mem[0].rss+mem[1].rss, "node-rss-MB")
	b.ReportMetric(mem[0].pss+mem[1].pss, "node-pss-MB")
	stats := get(b, "http://"+pprofAddr+"/debug/pprof/heap?debug=1&gc=1")
	b.ReportMetric(memStat(b, stats, "HeapAlloc")/(1<<20), "skiff-heap-live-MB")
}

func idleTime() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("SKIFF_IDLE_SECONDS")); err == nil {
		return time.Duration(s) * time.Second
	}
	return time.Minute
}

// memory is a process's resident memory in MB: the mean of samples from
// /proc/PID/smaps_rollup, and the largest RSS sample.
type memory struct{ rss, maxRSS, anon, pss float64 }

// report reports m as prefix+"rss-MB" and so on.
func (m memory) report(b *testing.B, prefix string) {
	b.ReportMetric(m.rss, prefix+"rss-MB")
	b.ReportMetric(m.maxRSS, prefix+"rss-max-MB")
	// What the process allocated, apart from the binary's clean pages.
	b.ReportMetric(m.anon, prefix+"rss-anon-MB")
	b.ReportMetric(m.rss-m.anon, prefix+"rss-file-MB")
	// Shared pages divided among the processes that map them.
	b.ReportMetric(m.pss, prefix+"pss-MB")
}

// idleMemory waits for d and samples each process's memory once a second over
// its second half: a single sample would fall anywhere in the server's 30 s
// trim cycle.
func idleMemory(b *testing.B, d time.Duration, pids ...int) []memory {
	time.Sleep(d / 2)
	sum := make([]memory, len(pids))
	n := 0
	for end := time.Now().Add(d / 2); time.Now().Before(end); time.Sleep(time.Second) {
		for i, pid := range pids {
			s := smapsRollup(b, pid)
			sum[i].rss += s["Rss"]
			sum[i].anon += s["Anonymous"]
			sum[i].pss += s["Pss"]
			sum[i].maxRSS = max(sum[i].maxRSS, s["Rss"])
		}
		n++
	}
	for i := range sum {
		sum[i].rss /= float64(n)
		sum[i].anon /= float64(n)
		sum[i].pss /= float64(n)
	}
	return sum
}

// smapsRollup reads the kB fields of /proc/PID/smaps_rollup, in MB.
func smapsRollup(b *testing.B, pid int) map[string]float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) == 3 && f[2] == "kB" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			out[strings.TrimSuffix(f[0], ":")] = kb / 1024
		}
	}
	if _, ok := out["Rss"]; !ok {
		b.Fatalf("no Rss in /proc/%d/smaps_rollup", pid)
	}
	return out
}
