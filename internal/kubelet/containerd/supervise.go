package containerd

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Restart backoff: the first restart follows a death after restartMin, each failed
// or short-lived run doubles the wait up to restartMax, and a run that lasted
// stableAfter starts again from restartMin.
const (
	restartMin  = time.Second
	restartMax  = 30 * time.Second
	stableAfter = time.Minute
)

// Supervisor keeps the agent's containerd running, restarting it when it dies.
// Containers outlive containerd (their shims are separate processes), so a
// restart keeps running pods.
type Supervisor struct {
	opts Options
	mu   sync.Mutex
	proc *Process
	stop chan struct{}
	done chan struct{}
	exit atomic.Pointer[func()]
}

// OnExit sets what to call each time containerd exits unasked (before the restart).
func (s *Supervisor) OnExit(f func()) { s.exit.Store(&f) }

// Supervise starts containerd and watches it until Stop.
func Supervise(ctx context.Context, o Options) (*Supervisor, error) {
	p, err := Start(ctx, o)
	if err != nil {
		return nil, err
	}
	s := &Supervisor{opts: o, proc: p, stop: make(chan struct{}), done: make(chan struct{})}
	go s.loop(ctx)
	return s, nil
}

func (s *Supervisor) current() *Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

func (s *Supervisor) loop(ctx context.Context) {
	defer close(s.done)
	delay := restartMin
	for {
		p, started := s.current(), time.Now()
		select {
		case <-s.stop:
			return
		case <-p.Done():
		}
		if time.Since(started) > stableAfter {
			delay = restartMin
		}
		if f := s.exit.Load(); f != nil {
			(*f)()
		}
		slog.Error("containerd exited; restarting it", "pid", p.cmd.Process.Pid, "err", p.err, "in", delay, "log", s.opts.logPath())
		for {
			select {
			case <-s.stop:
				return
			case <-time.After(delay):
			}
			if ctx.Err() != nil { // the agent is stopping: Stop follows
				<-s.stop
				return
			}
			delay = min(2*delay, restartMax)
			np, err := Start(ctx, s.opts)
			if err == nil {
				s.mu.Lock()
				s.proc = np
				s.mu.Unlock()
				break
			}
			slog.Error("restarting containerd failed", "err", err, "retry in", delay)
		}
	}
}

// Stop ends supervision and then containerd itself (gracefully; containers stay).
func (s *Supervisor) Stop() {
	close(s.stop)
	<-s.done
	s.current().Stop()
}
