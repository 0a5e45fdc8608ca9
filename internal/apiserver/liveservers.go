package apiserver

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// liveServersPrefix holds one key per running API server (its advertised
// address), bound to an etcd lease the server keeps alive: a server that dies
// drops out when its lease expires.
const liveServersPrefix = "/skiff/apiservers/"

// Timings: a dead server leaves the kubernetes endpoints within
// liveServerTTL + reconcileInterval.
const (
	liveServerTTL     = 10 // seconds
	reconcileInterval = 3 * time.Second
)

// liveEndpoints registers this server as live and keeps the kubernetes
// Service's endpoints equal to the set of live servers.
type liveEndpoints struct {
	s         *Server
	self      netip.AddrPort
	lease     clientv3.LeaseID
	alive     <-chan *clientv3.LeaseKeepAliveResponse
	published []netip.AddrPort
}

// step registers this server if it is not, and publishes the live set if it changed.
func (l *liveEndpoints) step(ctx context.Context) error {
	cli := l.s.etcd.Client
	if l.alive == nil {
		l.lease, l.alive = register(ctx, cli, l.self)
	}
	live, err := liveServers(ctx, cli)
	if err != nil || slices.Equal(live, l.published) {
		return err
	}
	if err := l.s.API.publishKubernetesEndpoints(ctx, slices.Clone(live)); err != nil {
		return err
	}
	l.published = live
	return nil
}

// run repeats step until ctx ends, then withdraws this server at once.
func (l *liveEndpoints) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			if l.lease != 0 {
				rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_, _ = l.s.etcd.Client.Revoke(rctx, l.lease)
				cancel()
			}
			return
		case _, ok := <-l.alive:
			if !ok {
				l.alive = nil // lease lost (no quorum for a while): register again
			}
		case <-time.After(reconcileInterval):
		}
		if err := l.step(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("kubernetes endpoints not updated", "err", err)
		}
	}
}

// register writes self under a fresh lease and keeps it alive; nil on failure
// (retried on the next round).
func register(ctx context.Context, cli *clientv3.Client, self netip.AddrPort) (clientv3.LeaseID, <-chan *clientv3.LeaseKeepAliveResponse) {
	g, err := cli.Grant(ctx, liveServerTTL)
	if err != nil {
		return 0, nil
	}
	if _, err := cli.Put(ctx, liveServersPrefix+self.String(), "", clientv3.WithLease(g.ID)); err != nil {
		return 0, nil
	}
	ch, err := cli.KeepAlive(ctx, g.ID)
	if err != nil {
		return 0, nil
	}
	return g.ID, ch
}

// liveServers lists the registered servers' addresses, sorted.
func liveServers(ctx context.Context, cli *clientv3.Client) ([]netip.AddrPort, error) {
	resp, err := cli.Get(ctx, liveServersPrefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, err
	}
	var out []netip.AddrPort
	for _, kv := range resp.Kvs {
		if ap, err := netip.ParseAddrPort(strings.TrimPrefix(string(kv.Key), liveServersPrefix)); err == nil {
			out = append(out, ap)
		}
	}
	slices.SortFunc(out, func(x, y netip.AddrPort) int { return x.Compare(y) })
	return out, nil
}
