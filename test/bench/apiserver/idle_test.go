package apiserver

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"skiff/test/e2e/framework"
)

// BenchmarkIdleRSS: the resident memory (VmRSS) of `skiff server --disable-agent`
// once it has been idle for a minute (SKIFF_IDLE_SECONDS changes that), and its
// live Go heap then (after a GC, from the pprof endpoint). Each iteration starts a
// fresh server; -count gives several samples. SKIFF_HEAP_PROFILE=file keeps the
// last idle server's heap profile for `go tool pprof`.
//
//	go test -run '^$' -bench IdleRSS -benchtime 1x -count 3 ./test/bench/apiserver
func BenchmarkIdleRSS(b *testing.B) {
	idle := time.Minute
	if s, err := strconv.Atoi(os.Getenv("SKIFF_IDLE_SECONDS")); err == nil {
		idle = time.Duration(s) * time.Second
	}
	for i := 0; i < b.N; i++ {
		pprofAddr := freeAddress(b)
		cl, err := framework.StartServer(b.TempDir(), "--disable-agent", "--profiling-address="+pprofAddr)
		if err != nil {
			b.Fatal(err)
		}
		ready := rssMB(b, cl)
		time.Sleep(idle)
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
