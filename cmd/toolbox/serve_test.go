package main

import (
	"bufio"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable now() so time-based probes are tested without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestServer(t *testing.T, readyAfter, healthyFor time.Duration) (*server, *fakeClock, *httptest.Server) {
	t.Helper()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := newServer(readyAfter, healthyFor)
	s.hostname = "pod-a"
	s.start = clock.now()
	s.now = clock.now
	s.log = log.New(io.Discard, "", 0)
	s.exit = func(code int) { t.Errorf("unexpected exit(%d)", code) }
	ts := httptest.NewServer(s.handler())
	t.Cleanup(ts.Close)
	return s, clock, ts
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func expectStatus(t *testing.T, url string, want int) {
	t.Helper()
	if got, body := get(t, url); got != want {
		t.Errorf("GET %s = %d %q, want %d", url, got, body, want)
	}
}

func TestHealthz(t *testing.T) {
	t.Run("fail and heal", func(t *testing.T) {
		_, _, ts := newTestServer(t, 0, 0)
		expectStatus(t, ts.URL+"/healthz", 200)
		expectStatus(t, ts.URL+"/fail", 200)
		expectStatus(t, ts.URL+"/healthz", 500)
		expectStatus(t, ts.URL+"/fail", 200) // setting, not toggling: a retry keeps it failed
		expectStatus(t, ts.URL+"/healthz", 500)
		expectStatus(t, ts.URL+"/heal", 200)
		expectStatus(t, ts.URL+"/healthz", 200)
	})
	t.Run("healthy-for", func(t *testing.T) {
		_, clock, ts := newTestServer(t, 0, 30*time.Second)
		expectStatus(t, ts.URL+"/healthz", 200)
		clock.advance(29 * time.Second)
		expectStatus(t, ts.URL+"/healthz", 200)
		clock.advance(time.Second)
		expectStatus(t, ts.URL+"/healthz", 500)
	})
}

func TestReady(t *testing.T) {
	t.Run("ready-after", func(t *testing.T) {
		_, clock, ts := newTestServer(t, 10*time.Second, 0)
		expectStatus(t, ts.URL+"/ready", 503)
		clock.advance(9 * time.Second)
		expectStatus(t, ts.URL+"/ready", 503)
		clock.advance(time.Second)
		expectStatus(t, ts.URL+"/ready", 200)
		// Readiness and liveness are independent.
		expectStatus(t, ts.URL+"/healthz", 200)
	})
	t.Run("unready and makeready override the timer", func(t *testing.T) {
		_, clock, ts := newTestServer(t, time.Hour, 0)
		expectStatus(t, ts.URL+"/ready", 503)
		expectStatus(t, ts.URL+"/makeready", 200)
		expectStatus(t, ts.URL+"/ready", 200)
		clock.advance(2 * time.Hour)
		expectStatus(t, ts.URL+"/unready", 200)
		expectStatus(t, ts.URL+"/ready", 503)
	})
}

func TestEndpoints(t *testing.T) {
	_, _, ts := newTestServer(t, 0, 0)
	tests := []struct {
		name, path string
		wantCode   int
		want       string // body, or a line it must contain when contains is set
		contains   bool
	}{
		{name: "hostname", path: "/hostname", wantCode: 200, want: "pod-a"},
		{name: "root plain", path: "/?x=1", wantCode: 200, want: "hostname: pod-a\n", contains: true},
		{name: "root path", path: "/?x=1", wantCode: 200, want: "path: /?x=1\n", contains: true},
		{name: "echo", path: "/echo?msg=hello%20world", wantCode: 200, want: "hello world"},
		{name: "headers", path: "/headers", wantCode: 200, want: "User-Agent: Go-http-client/1.1\n", contains: true},
		{name: "any other path", path: "/app1/x", wantCode: 200, want: "path: /app1/x\n", contains: true},
		{name: "exit without code", path: "/exit", wantCode: 400, want: "want ?code=N\n"},
		{name: "stream bad count", path: "/stream?count=x", wantCode: 400, want: "count must", contains: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, ts.URL+tt.path)
			if code != tt.wantCode {
				t.Errorf("status %d, want %d", code, tt.wantCode)
			}
			if tt.contains && !strings.Contains(body, tt.want) || !tt.contains && body != tt.want {
				t.Errorf("body %q, want %q (contains: %v)", body, tt.want, tt.contains)
			}
		})
	}
}

func TestRootJSON(t *testing.T) {
	_, _, ts := newTestServer(t, 0, 0)
	_, body := get(t, ts.URL+"/?format=json")
	var got struct {
		Hostname, Method, Path string
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if got.Hostname != "pod-a" || got.Method != "GET" || got.Path != "/" {
		t.Errorf("got %+v", got)
	}
}

func TestExit(t *testing.T) {
	s, _, ts := newTestServer(t, 0, 0)
	exited := make(chan int, 1)
	s.exit = func(code int) { exited <- code }
	code, body := get(t, ts.URL+"/exit?code=7")
	if code != 200 || body != "exiting with code 7\n" {
		t.Errorf("GET /exit = %d %q", code, body)
	}
	select {
	case c := <-exited:
		if c != 7 {
			t.Errorf("exit(%d), want exit(7)", c)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("server did not exit")
	}
}

func TestStreamFlushesEachLine(t *testing.T) {
	_, _, ts := newTestServer(t, 0, 0)
	resp, err := http.Get(ts.URL + "/stream?count=3&interval=1h")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// With an hour between lines, reading the first line proves it was flushed on its own.
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(line, "1 pod-a ") {
		t.Errorf("first line %q, want it to start with %q", line, "1 pod-a ")
	}
}

func TestRequestLog(t *testing.T) {
	s, _, ts := newTestServer(t, 0, 0)
	var buf strings.Builder
	var mu sync.Mutex
	s.log = log.New(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), "", 0)
	get(t, ts.URL+"/ready")
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(buf.String(), "GET /ready 200") {
		t.Errorf("log %q lacks the request", buf.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
