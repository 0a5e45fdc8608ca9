// Package store keeps API objects in etcd and serves lists and watches from an
// in-memory cache fed by one etcd watch.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
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

// StartEmbedded runs a single etcd member with its data in dir (see StartMember).
func StartEmbedded(ctx context.Context, dir string) (*Etcd, error) {
	return StartMember(ctx, dir, Member{})
}

// Member says who an embedded member is and how it reaches the other members.
type Member struct {
	// Name is the member's name in the etcd cluster (default "skiff").
	Name string
	// PeerURL is the https URL other members reach this one at (the TLS front in
	// internal/etcdpeer); empty until the cluster has a second server.
	PeerURL string
	// PeerCertFile and PeerKeyFile are this member's certificate from the cluster
	// CA (client and server use), CAFile the CA: etcd dials other members with them.
	PeerCertFile, PeerKeyFile, CAFile string
	// InitialCluster lists every member, this one included, when joining an
	// existing cluster ("name=url,..."); empty for a new or already joined member.
	InitialCluster string
	// CompactionInterval is how much history the member keeps for watches and
	// paging: every interval, revisions older than one interval are compacted
	// (so between one and two intervals are kept). 0 means five minutes, the
	// default of kube-apiserver's --etcd-compaction-interval.
	CompactionInterval time.Duration
}

// compactionRetention is CompactionInterval as etcd's periodic retention.
func (m Member) compactionRetention() string {
	if m.CompactionInterval == 0 {
		return "5m"
	}
	return m.CompactionInterval.String()
}

// PeerSocket is where an embedded member in dir takes peer connections: a unix
// socket in the member's private directory. Only the TLS front forwards to it,
// once another server has joined; no network port is opened for etcd before.
func PeerSocket(dir string) string { return filepath.Join(dir, "peer.sock") }

// StartMember runs an embedded etcd member with its data in dir. It opens no
// client or metrics listener at all: skiff talks to it in-process (v3client), so no
// local user or hostNetwork pod can reach etcd behind the API server's back. Peers
// come in through a unix socket in dir (mode 0700), which the mutual-TLS front of
// internal/etcdpeer forwards to when the cluster has several servers.
func StartMember(ctx context.Context, dir string, m Member) (*Etcd, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, err
	}
	cfg := memberConfig(dir, m)
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.New(newSlogCore(slog.Default())))
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = nil, nil
	// A url.URL built by hand: etcd listens on Host as a unix socket path.
	cfg.ListenPeerUrls = []url.URL{{Scheme: "unix", Host: PeerSocket(dir)}}
	if m.PeerCertFile != "" {
		cfg.PeerTLSInfo = transport.TLSInfo{CertFile: m.PeerCertFile, KeyFile: m.PeerKeyFile,
			TrustedCAFile: m.CAFile, ClientCertFile: m.PeerCertFile, ClientKeyFile: m.PeerKeyFile}
	}
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = m.compactionRetention()
	cfg.QuotaBackendBytes = 8 << 30
	cfg.MaxRequestBytes = maxRequestBytes
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd in %s: %w", dir, err)
	}
	// A joining member is ready once it has caught up enough to publish itself; a
	// restarted member of a multi-server cluster once a quorum is back.
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd: %w", err)
	case <-time.After(5 * time.Minute):
		e.Close()
		return nil, fmt.Errorf("embedded etcd in %s did not become ready within 5m (with several servers: is a majority of them running?)", dir)
	case <-ctx.Done():
		e.Close()
		return nil, ctx.Err()
	}
	slog.Info("etcd ready", "dir", dir, "member", cfg.Name, "listeners", "none but the peer socket (in-process client)")
	return &Etcd{Client: v3client.New(e.Server), member: e}, nil
}

// memberConfig names the embedded member and where its data lives. Until the
// cluster has a second server, the advertised peer URL is recorded in the
// membership only; nothing answers there.
func memberConfig(dir string, m Member) *embed.Config {
	cfg := embed.NewConfig()
	cfg.Name = "skiff"
	if m.Name != "" {
		cfg.Name = m.Name
	}
	cfg.Dir = filepath.Join(dir, "data")
	if m.PeerURL != "" {
		u, err := url.Parse(m.PeerURL)
		if err == nil {
			cfg.AdvertisePeerUrls = []url.URL{*u}
		}
	}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	if m.InitialCluster != "" {
		cfg.InitialCluster = m.InitialCluster
		cfg.ClusterState = embed.ClusterStateFlagExisting
	}
	return cfg
}

// Learner reports whether the embedded member is a learner that has not been
// promoted yet: it replicates but cannot serve the API's reads and writes.
func (e *Etcd) Learner() bool { return e.member != nil && e.member.Server.IsLearner() }

// HasLeader reports whether the embedded member knows a leader, i.e. a quorum
// of members is reachable and writes can commit; external etcd is assumed to.
func (e *Etcd) HasLeader() bool { return e.member == nil || e.member.Server.Leader() != 0 }

// MemberID is the embedded member's ID (0 for external etcd).
func (e *Etcd) MemberID() uint64 {
	if e.member == nil {
		return 0
	}
	return uint64(e.member.Server.MemberID())
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
