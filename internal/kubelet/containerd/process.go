package containerd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"skiff/internal/kubelet/cri"
)

// Process is a running containerd child.
type Process struct {
	opts Options
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start writes the config and starts containerd, stopping first a containerd that a
// crashed agent left behind on the same directory. It returns once the CRI socket
// answers. Containers survive containerd restarts: their shims are separate processes
// that the new containerd reconnects to.
func Start(ctx context.Context, o Options) (*Process, error) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, errors.New("containerd is not installed: apt-get install containerd runc containernetworking-plugins")
	}
	for _, d := range []string{o.Dir, o.CNIConfDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	if err := os.WriteFile(o.configPath(), []byte(o.Config()), 0o600); err != nil {
		return nil, err
	}
	stopStale(o.pidPath())
	logf, err := os.OpenFile(o.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	// A context-free command: the agent stops containerd itself, gracefully, after its
	// own work is done; own process group so a terminal's Ctrl-C reaches only the agent.
	cmd := exec.Command(bin, "--config", o.configPath())
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	p := &Process{opts: o, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	_ = os.WriteFile(o.pidPath(), []byte(strconv.Itoa(cmd.Process.Pid)), 0o600)
	if err := p.waitReady(ctx); err != nil {
		p.Stop()
		return nil, err
	}
	slog.Info("containerd started", "pid", cmd.Process.Pid, "socket", o.Socket())
	return p, nil
}

func (p *Process) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		if _, err := os.Stat(p.opts.Socket()); err == nil {
			c, _, err := cri.Dial(ctx, p.opts.Socket(), 5*time.Second)
			if err == nil {
				c.Close()
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("containerd exited during start (%v); see %s", p.err, p.opts.logPath())
		case <-ctx.Done():
			return fmt.Errorf("containerd socket %s not ready within 30s; see %s", p.opts.Socket(), p.opts.logPath())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop ends containerd with SIGTERM (SIGKILL after 10s). Running containers are not
// touched.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	_ = os.Remove(p.opts.pidPath())
	slog.Info("containerd stopped", "pid", p.cmd.Process.Pid)
}

// Done is closed when containerd exits.
func (p *Process) Done() <-chan struct{} { return p.done }

// stopStale ends a containerd recorded in pidFile by an agent that did not stop it,
// checking first that the pid still belongs to a containerd.
func stopStale(pidFile string) {
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return
	}
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil || strings.TrimSpace(string(comm)) != "containerd" {
		return
	}
	slog.Warn("stopping containerd left behind by an earlier agent", "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for i := 0; i < 100; i++ {
		if syscall.Kill(pid, 0) != nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}
