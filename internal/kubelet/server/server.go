// Package server is the agent's HTTPS endpoint, which the API server calls to proxy
// `kubectl logs` (and later exec, attach and port-forward). Only clients with a
// certificate from the cluster CA get in; the API server authorizes the user.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"skiff/internal/kubelet/logs"
)

// LogSource finds a container's log file.
type LogSource interface {
	// LogPath returns the log file of the container's current run (or the one before,
	// with previous) and a function reporting whether that run is still going.
	// Errors wrapping fs.ErrNotExist answer 404.
	LogPath(ctx context.Context, ns, pod, container string, previous bool) (string, func() bool, error)
}

// Config configures the endpoint.
type Config struct {
	Port      int // 0 picks a free port
	Cert      tls.Certificate
	ClientCAs *x509.CertPool
	Logs      LogSource
}

// Server is the listening endpoint.
type Server struct {
	ln   net.Listener
	http *http.Server
	mux  *http.ServeMux
}

// New listens on all addresses at cfg.Port.
func New(cfg Config) (*Server, error) {
	if cfg.ClientCAs == nil {
		return nil, errors.New("agent endpoint needs the cluster CA to check clients")
	}
	tlsCfg := &tls.Config{
		Certificates: []tls.Certificate{cfg.Cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    cfg.ClientCAs,
		MinVersion:   tls.VersionTLS12,
	}
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port))
	if err != nil {
		return nil, fmt.Errorf("agent endpoint: %w", err)
	}
	s := &Server{ln: tls.NewListener(ln, tlsCfg), mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /containerLogs/{ns}/{pod}/{container}", func(w http.ResponseWriter, r *http.Request) {
		serveLogs(w, r, cfg.Logs)
	})
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	s.http = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// Port is the port listened on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Handle adds a route (exec, attach, port-forward come this way).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Serve answers until ctx ends.
func (s *Server) Serve(ctx context.Context) {
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.http.Shutdown(sctx)
	}()
	if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("agent endpoint stopped", "err", err)
	}
}

func serveLogs(w http.ResponseWriter, r *http.Request, src LogSource) {
	q := r.URL.Query()
	opts, err := logOptions(q.Get, time.Now())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	path, running, err := src.LogPath(r.Context(), r.PathValue("ns"), r.PathValue("pod"), r.PathValue("container"), q.Get("previous") == "true")
	if err != nil {
		code := http.StatusInternalServerError
		if errors.Is(err, fs.ErrNotExist) {
			code = http.StatusNotFound
		}
		http.Error(w, err.Error(), code)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.Header().Set("Transfer-Encoding", "chunked")
	w.WriteHeader(http.StatusOK)
	if err := logs.Copy(r.Context(), w, path, opts, running); err != nil && r.Context().Err() == nil {
		slog.Debug("log stream ended", "path", path, "err", err)
	}
}

// logOptions reads the query parameters of the kubelet's containerLogs endpoint.
func logOptions(get func(string) string, now time.Time) (logs.Options, error) {
	o := logs.Options{TailLines: -1, Follow: get("follow") == "true", Timestamps: get("timestamps") == "true"}
	ints := []struct {
		name string
		dst  *int64
	}{{"tailLines", &o.TailLines}, {"limitBytes", &o.LimitBytes}}
	for _, p := range ints {
		if v := get(p.name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return o, fmt.Errorf("%s must be a non-negative integer, got %q", p.name, v)
			}
			*p.dst = n
		}
	}
	if v := get("sinceSeconds"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return o, fmt.Errorf("sinceSeconds must be a positive integer, got %q", v)
		}
		o.Since = now.Add(-time.Duration(n) * time.Second)
	}
	if v := get("sinceTime"); v != "" {
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
		if err != nil {
			return o, fmt.Errorf("sinceTime must be RFC 3339: %v", err)
		}
		o.Since = t
	}
	return o, nil
}
