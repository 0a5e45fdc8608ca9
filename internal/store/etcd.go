// Package store keeps API objects in etcd and serves lists and watches from an
// in-memory cache fed by one etcd watch.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
	"go.uber.org/zap"
)

// Etcd is a connection to the cluster's etcd: an embedded member or external endpoints.
type Etcd struct {
	Client *clientv3.Client
	member *embed.Etcd
}

// StartEmbedded runs a single etcd member with its data in dir. It opens no client,
// peer or metrics listener at all: skiff talks to it in-process (v3client), so no
// local user or hostNetwork pod can reach etcd behind the API server's back.
func StartEmbedded(ctx context.Context, dir string) (*Etcd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg := memberConfig(dir)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(newSlogCore(slog.Default())))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = nil, nil
	cfg.ListenPeerUrls = nil
	// Keep five minutes of history for watches and paging; older revisions are compacted.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "5m"
	cfg.QuotaBackendBytes = 8 << 30
	cfg.MaxRequestBytes = maxRequestBytes
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s did not become ready within 60s", dir)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	slog.Info("etcd ready", "dir", dir, "listeners", "none (in-process client)")
	return &Etcd{Client: v3client.New(e.Server), member: e}, nil
}

// memberConfig names the embedded member and where its data lives. The member's
// advertised peer URL is recorded in its membership only; with no peer listener
// nothing answers there.
func memberConfig(dir string) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = "skiff"
	cfg.Dir = filepath.Join(dir, "data")
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	return cfg
}

// Connect uses an external etcd cluster.
func Connect(endpoints []string) (*Etcd, error) {
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %v: %w", endpoints, err)
	}
	return &Etcd{Client: c}, nil
}

// ErrStopped says the embedded member stopped on its own; etcd logged why.
var ErrStopped = errors.New("embedded etcd stopped (its last errors are logged above)")

// Stopped is closed when the embedded member stops by itself (a disk error, a
// corrupt WAL); external etcd never closes it, its client retries instead.
func (e *Etcd) Stopped() <-chan struct{} {
	if e.member == nil {
		return nil
	}
	return e.member.Server.StopNotify()
}

// Close stops the client and, when embedded, the member (flushing its WAL).
func (e *Etcd) Close() {
	e.Client.Close()
	if e.member != nil {
		e.member.Close()
	}
}
