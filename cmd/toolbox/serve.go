package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// server is the state behind `toolbox serve`: what the probes answer, and when.
type server struct {
	hostname   string
	readyAfter time.Duration
	healthyFor time.Duration // 0: healthy until /fail
	start      time.Time
	now        func() time.Time
	exit       func(code int)
	log        *log.Logger

	mu    sync.Mutex
	fail  bool // set by /fail, cleared by /heal
	ready int  // 0: follow readyAfter; 1: forced ready (/makeready); -1: forced unready (/unready)
}

func runServe(ctx context.Context, args []string) error {
	fs := newFlags("serve")
	port := fs.Int("port", 8080, "TCP port to listen on")
	readyAfter := fs.Duration("ready-after", 0, "/ready answers 503 until this long after start")
	healthyFor := fs.Duration("healthy-for", 0, "/healthz answers 500 from this long after start (0: stays healthy)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	s := newServer(*readyAfter, *healthyFor)
	srv := &http.Server{Addr: net.JoinHostPort("", strconv.Itoa(*port)), Handler: s.handler()}
	ln, err := net.Listen("tcp", srv.Addr)
	if err != nil {
		return err
	}
	s.log.Printf("serving on %s as %s (ready after %v, healthy for %v)", ln.Addr(), s.hostname, *readyAfter, *healthyFor)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Printf("terminating: finishing open requests")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		srv.Close() // /stream clients would otherwise hold the pod open
	}
	return nil
}

func newServer(readyAfter, healthyFor time.Duration) *server {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown"
	}
	return &server{
		hostname:   host,
		readyAfter: readyAfter,
		healthyFor: healthyFor,
		start:      time.Now(),
		now:        time.Now,
		exit:       os.Exit,
		log:        log.New(os.Stdout, "", log.LstdFlags|log.Lmicroseconds),
	}
}

func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	// Every other path answers with the hostname page, so tests can tell which pod
	// a proxy (Service, Ingress path) reached whatever path it forwards.
	mux.HandleFunc("/", s.root)
	mux.HandleFunc("/hostname", func(w http.ResponseWriter, _ *http.Request) {
		// No newline, like agnhost: tests compare the body with a pod name.
		io.WriteString(w, s.hostname)
	})
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("/fail", func(w http.ResponseWriter, _ *http.Request) {
		s.set(func() { s.fail = true })
		io.WriteString(w, "ok: /healthz now fails\n")
	})
	mux.HandleFunc("/heal", func(w http.ResponseWriter, _ *http.Request) {
		s.set(func() { s.fail = false })
		io.WriteString(w, "ok: /healthz no longer fails because of /fail\n")
	})
	mux.HandleFunc("/ready", s.readyz)
	mux.HandleFunc("/unready", func(w http.ResponseWriter, _ *http.Request) {
		s.set(func() { s.ready = -1 })
		io.WriteString(w, "ok: /ready now fails\n")
	})
	mux.HandleFunc("/makeready", func(w http.ResponseWriter, _ *http.Request) {
		s.set(func() { s.ready = 1 })
		io.WriteString(w, "ok: /ready now succeeds\n")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.URL.Query().Get("msg"))
	})
	mux.HandleFunc("/headers", s.headers)
	mux.HandleFunc("/exit", s.exitHandler)
	mux.HandleFunc("/stream", s.stream)
	return s.logRequests(mux)
}

func (s *server) set(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
}

// root answers with the serving pod's name and what it saw of the request: plain text
// by default, JSON for clients that ask for it (Accept or ?format=json).
func (s *server) root(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("format") == "json" || strings.Contains(r.Header.Get("Accept"), "application/json") {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"hostname":   s.hostname,
			"method":     r.Method,
			"path":       r.URL.Path,
			"query":      r.URL.RawQuery,
			"host":       r.Host,
			"remoteAddr": r.RemoteAddr,
			"headers":    r.Header,
		})
		return
	}
	fmt.Fprintf(w, "hostname: %s\nmethod: %s\npath: %s\nhost: %s\nremote: %s\n", s.hostname, r.Method, r.URL.RequestURI(), r.Host, r.RemoteAddr)
}

func (s *server) healthy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return false
	}
	return s.healthyFor == 0 || s.now().Sub(s.start) < s.healthyFor
}

func (s *server) isReady() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ready != 0 {
		return s.ready > 0
	}
	return s.now().Sub(s.start) >= s.readyAfter
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	if !s.healthy() {
		http.Error(w, "unhealthy", http.StatusInternalServerError)
		return
	}
	io.WriteString(w, "ok\n")
}

func (s *server) readyz(w http.ResponseWriter, _ *http.Request) {
	if !s.isReady() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

func (s *server) headers(w http.ResponseWriter, r *http.Request) {
	var lines []string
	for k, vs := range r.Header {
		for _, v := range vs {
			lines = append(lines, k+": "+v)
		}
	}
	// Go moves Host out of the header map; proxies and ingress tests care about it.
	lines = append(lines, "Host: "+r.Host)
	sort.Strings(lines)
	io.WriteString(w, strings.Join(lines, "\n")+"\n")
}

// exitHandler answers before exiting so the client sees the request succeed; the delay
// lets the response reach the wire.
func (s *server) exitHandler(w http.ResponseWriter, r *http.Request) {
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err != nil {
		http.Error(w, "want ?code=N", http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "exiting with code %d\n", code)
	http.NewResponseController(w).Flush()
	s.log.Printf("exiting with code %d as asked by %s", code, r.RemoteAddr)
	go func() {
		time.Sleep(100 * time.Millisecond)
		s.exit(code)
	}()
}

// stream writes a numbered line every interval, flushing each, for tests of proxies,
// idle timeouts and connection draining. ?count=N (default 10) and ?interval=D (1s).
func (s *server) stream(w http.ResponseWriter, r *http.Request) {
	count, interval := 10, time.Second
	if v := r.URL.Query().Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			http.Error(w, "count must be a non-negative integer", http.StatusBadRequest)
			return
		}
		count = n
	}
	if v := r.URL.Query().Get("interval"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			http.Error(w, "interval must be a duration like 500ms", http.StatusBadRequest)
			return
		}
		interval = d
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rc := http.NewResponseController(w)
	for i := 1; i <= count; i++ {
		if i > 1 {
			if sleepCtx(r.Context(), interval) != nil {
				return
			}
		}
		if _, err := fmt.Fprintf(w, "%d %s %s\n", i, s.hostname, s.now().UTC().Format(time.RFC3339Nano)); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// logRequests prints one line per request to stdout, which is what `kubectl logs` shows.
func (s *server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		s.log.Printf("%s %s %s %d %dB %v %q", r.RemoteAddr, r.Method, r.URL.RequestURI(), sw.code, sw.n, time.Since(start).Round(time.Microsecond), r.UserAgent())
	})
}

type statusWriter struct {
	http.ResponseWriter
	code int
	n    int64
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer's Flush.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
