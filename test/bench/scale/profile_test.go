package scale

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// profiler fetches profiles from the server's pprof endpoint into a directory.
type profiler struct {
	b    *testing.B
	dir  string
	addr string
}

// newProfiler returns nil unless SKIFF_SCALE_PROFILE names a directory.
func newProfiler(b *testing.B) *profiler {
	dir := os.Getenv("SKIFF_SCALE_PROFILE")
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return &profiler{b: b, dir: dir, addr: addr}
}

// fetch saves the endpoint's answer as dir/name.pprof.
func (p *profiler) fetch(name, path string) {
	resp, err := http.Get("http://" + p.addr + path)
	if err != nil {
		p.b.Fatal(err)
	}
	defer resp.Body.Close()
	f, err := os.Create(filepath.Join(p.dir, name+".pprof"))
	if err != nil {
		p.b.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, resp.Body); err != nil {
		p.b.Fatal(err)
	}
}

// cpu profiles the server for d (and so takes d).
func (p *profiler) cpu(name string, d time.Duration) {
	p.fetch(name, fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(d.Seconds())))
}

func (p *profiler) heap(name string) { p.fetch(name, "/debug/pprof/heap") }

// getPods runs `kubectl get pods -A` again with kubectl's own CPU profile,
// while the server's is taken for d.
func (p *profiler) getPods(kubeconfig string, d time.Duration) {
	done := make(chan struct{})
	go func() { defer close(done); p.cpu("server-get", d) }()
	cmd := exec.Command("kubectl", "--kubeconfig", kubeconfig, "get", "pods", "-A", "--no-headers",
		"--profile", "cpu", "--profile-output", filepath.Join(p.dir, "kubectl-get.pprof"))
	cmd.Stdout = io.Discard
	if err := cmd.Run(); err != nil {
		p.b.Fatalf("kubectl get pods -A: %v", err)
	}
	<-done
}
