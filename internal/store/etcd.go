// Package store keeps API objects in etcd and serves lists and watches from an
// in-memory cache fed by one etcd watch.
package store

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
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

// StartEmbedded runs a single etcd member with its data in dir. Only loopback listeners
// are opened, on ports the kernel picks, because skiff talks to it in-process.
func StartEmbedded(ctx context.Context, dir string) (*Etcd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "skiff"
	cfg.Dir = filepath.Join(dir, "data")
	// etcd reports its own listeners closing at shutdown as errors; skiff reports
	// what matters (start failures, lost watches) itself.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	local, _ := url.Parse("http://127.0.0.1:0")
	cfg.ListenClientUrls = []url.URL{*local}
	cfg.AdvertiseClientUrls = []url.URL{*local}
	cfg.ListenPeerUrls = []url.URL{*local}
	cfg.AdvertisePeerUrls = []url.URL{*local}
	cfg.InitialCluster = "skiff=http://127.0.0.1:0"
	// Keep five minutes of history for watches and paging; older revisions are compacted.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "5m"
	cfg.QuotaBackendBytes = 8 << 30
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
	slog.Info("etcd ready", "dir", dir)
	return &Etcd{Client: v3client.New(e.Server), member: e}, nil
}

// Connect uses an external etcd cluster.
func Connect(endpoints []string) (*Etcd, error) {
	c, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("connect to etcd %v: %w", endpoints, err)
	}
	return &Etcd{Client: c}, nil
}

// Close stops the client and, when embedded, the member (flushing its WAL).
func (e *Etcd) Close() {
	e.Client.Close()
	if e.member != nil {
		e.member.Close()
	}
}
