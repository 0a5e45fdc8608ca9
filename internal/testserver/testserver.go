// Package testserver starts an in-process API server on a temporary embedded etcd, for
// integration tests that drive it with client-go.
package testserver

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/internal/apiserver"
)

// Server is a running test API server.
type Server struct {
	*apiserver.Server
	Config *rest.Config
	Client kubernetes.Interface
	Dir    string
	stop   func()
}

// Stop ends the server; tests that restart on the same Dir call it first.
func (s *Server) Stop() { s.stop() }

// Start runs a server in t.TempDir() and stops it when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	dir := t.TempDir()
	return StartIn(t, dir)
}

// StartIn runs a server with its data in dir (reuse dir to test restarts).
func StartIn(t testing.TB, dir string) *Server {
	t.Helper()
	return start(t, dir, nil)
}

// StartWith runs a server that setup may change (add handlers to) before it serves.
func StartWith(t testing.TB, setup func(*apiserver.Server)) *Server {
	t.Helper()
	return start(t, t.TempDir(), setup)
}

func start(t testing.TB, dir string, setup func(*apiserver.Server)) *Server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := apiserver.Start(ctx, apiserver.Config{
		DataDir: dir, BindAddress: "127.0.0.1", HTTPSPort: 0,
		ServiceCIDR: "10.43.0.0/16", ClusterCIDR: "10.42.0.0/16",
	})
	if err != nil {
		cancel()
		t.Fatalf("start API server: %v", err)
	}
	if setup != nil {
		setup(srv)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				t.Errorf("API server did not stop within 20s")
			}
		})
	}
	t.Cleanup(stop)
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig())
	if err != nil {
		t.Fatalf("kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 1000, 2000
	waitReady(t, cfg)
	return &Server{Server: srv, Config: cfg, Client: kubernetes.NewForConfigOrDie(cfg), Dir: dir, stop: stop}
}

func waitReady(t testing.TB, cfg *rest.Config) {
	t.Helper()
	rt, err := rest.TransportFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Transport: rt, Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := c.Get(cfg.Host + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("API server at %s not ready within 60s", cfg.Host)
}
