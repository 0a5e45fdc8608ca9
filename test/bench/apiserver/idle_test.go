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

// BenchmarkIdleRSS: the resident memory (VmRSS) of `skiff server --disable-agent`
// once it has been idle for a minute (SKIFF_IDLE_SECONDS changes that), and its
// live Go heap then (after a GC, from the pprof endpoint), and the CPU it used
// meanwhile (ms per second, in 10 ms clock ticks). Each iteration starts a
// fresh server; -count gives several samples. SKIFF_HEAP_PROFILE=file keeps the
// last idle server's heap profile for `go tool pprof`.
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
		time.Sleep(idle)
		// The CPU an idle server spends (leases, resyncs, trimming its heap).
		b.ReportMetric(float64((procCPU(b, cl.PID())-cpu).Milliseconds())/idle.Seconds(), "idle-cpu-ms/s")
		b.ReportMetric(ready, "ready-rss-MB")
		b.ReportMetric(rssMB(b, cl), "idle-rss-MB")
		// The binary's own pages (file-backed) apart from the memory the
		// server allocated (anonymous).
		b.ReportMetric(procStatusMB(b, cl.PID(), "RssFile"), "idle-rss-file-MB")
		b.ReportMetric(procStatusMB(b, cl.PID(), "RssAnon"), "idle-rss-anon-MB")
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
// the server's and containerd's resident memory apart, each as anonymous
// (allocated) and file-backed (the binary's pages). It needs root, containerd,
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
	time.Sleep(idle)
	pidFile, err := os.ReadFile(filepath.Join(cl.Dir, "agent", "containerd", "containerd.pid"))
	if err != nil {
		b.Fatal(err)
	}
	containerd, err := strconv.Atoi(strings.TrimSpace(string(pidFile)))
	if err != nil {
		b.Fatal(err)
	}
	skiff, ctrd := procStatusMB(b, cl.PID(), "VmRSS"), procStatusMB(b, containerd, "VmRSS")
	b.ReportMetric(skiff, "skiff-rss-MB")
	b.ReportMetric(procStatusMB(b, cl.PID(), "RssAnon"), "skiff-rss-anon-MB")
	b.ReportMetric(procStatusMB(b, cl.PID(), "RssFile"), "skiff-rss-file-MB")
	b.ReportMetric(ctrd, "containerd-rss-MB")
	b.ReportMetric(procStatusMB(b, containerd, "RssAnon"), "containerd-rss-anon-MB")
	b.ReportMetric(procStatusMB(b, containerd, "RssFile"), "containerd-rss-file-MB")
	b.ReportMetric(skiff+ctrd, "node-rss-MB")
	stats := get(b, "http://"+pprofAddr+"/debug/pprof/heap?debug=1&gc=1")
	b.ReportMetric(memStat(b, stats, "HeapAlloc")/(1<<20), "skiff-heap-live-MB")
}

func idleTime() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("SKIFF_IDLE_SECONDS")); err == nil {
		return time.Duration(s) * time.Second
	}
	return time.Minute
}
