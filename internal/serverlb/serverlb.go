// Package serverlb is an agent's view of a control plane of several servers: a
// local TCP proxy that forwards each new connection to an API server that
// answers, moving on to the next when one refuses, with the list learned from
// the kubernetes Service's endpoints (as k3s's agent load balancer does). TLS
// passes through untouched: every server's certificate names 127.0.0.1.
package serverlb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// dialTimeout bounds one attempt at a server, so a dead one costs little.
const dialTimeout = 2 * time.Second

// LB forwards connections to the first server of its list that accepts.
type LB struct {
	seed     string
	listener net.Listener

	mu      sync.Mutex
	servers []string // host:port, the one that last answered first
}

// Start listens on a loopback port; seed (host:port, the agent's --server) is
// always kept in the list, so the agent can come back through it.
func Start(ctx context.Context, seed string) (*LB, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	lb := &LB{seed: seed, listener: l, servers: []string{seed}}
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	go lb.serve()
	return lb, nil
}

// Addr is the local address clients dial instead of a server.
func (lb *LB) Addr() string { return lb.listener.Addr().String() }

// Servers is the current list, preferred first.
func (lb *LB) Servers() []string {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	return slices.Clone(lb.servers)
}

// SetServers replaces the list (plus the seed), keeping the preferred server
// first while it is still listed.
func (lb *LB) SetServers(addrs []string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	next := slices.Clone(addrs)
	if !slices.Contains(next, lb.seed) {
		next = append(next, lb.seed)
	}
	if cur := lb.servers[0]; slices.Contains(next, cur) {
		next = append([]string{cur}, slices.DeleteFunc(next, func(s string) bool { return s == cur })...)
	}
	lb.servers = next
}

func (lb *LB) serve() {
	for {
		c, err := lb.listener.Accept()
		if err != nil {
			return
		}
		go lb.forward(c)
	}
}

// forward pipes c to the first server that accepts a connection.
func (lb *LB) forward(c net.Conn) {
	defer c.Close()
	up, err := lb.dial()
	if err != nil {
		slog.Warn("no API server reachable", "servers", lb.Servers(), "err", err)
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done // either side closing ends both
}

// dial tries the servers in order and makes the one that answers preferred.
func (lb *LB) dial() (net.Conn, error) {
	var lastErr error
	for _, s := range lb.Servers() {
		c, err := net.DialTimeout("tcp", s, dialTimeout)
		if err != nil {
			lastErr = err
			continue
		}
		lb.prefer(s)
		return c, nil
	}
	return nil, lastErr
}

func (lb *LB) prefer(s string) {
	lb.mu.Lock()
	defer lb.mu.Unlock()
	if i := slices.Index(lb.servers, s); i > 0 {
		lb.servers = append([]string{s}, slices.Delete(lb.servers, i, i+1)...)
		slog.Info("API server switched", "server", s)
	}
}

// Follow keeps the list equal to the kubernetes Service's endpoints, read
// through the LB itself every interval, until ctx ends.
func (lb *LB) Follow(ctx context.Context, client kubernetes.Interface, interval time.Duration) {
	for {
		if addrs, err := endpoints(ctx, client); err == nil && len(addrs) > 0 {
			lb.SetServers(addrs)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

func endpoints(ctx context.Context, client kubernetes.Interface) ([]string, error) {
	ep, err := client.CoreV1().Endpoints("default").Get(ctx, "kubernetes", metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, sub := range ep.Subsets {
		for _, p := range sub.Ports {
			for _, a := range sub.Addresses {
				out = append(out, net.JoinHostPort(a.IP, fmt.Sprint(p.Port)))
			}
		}
	}
	return out, nil
}
