package apiserver

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/auth"
	"skiff/internal/etcdpeer"
	"skiff/internal/hostnet"
	"skiff/internal/serverjoin"
	"skiff/internal/store"
)

// This file makes several servers one control plane: a server joins another with
// a server join token (--server, --token), its embedded etcd member joins theirs
// as a learner and is promoted once caught up, and peers talk mutual TLS through
// the front of internal/etcdpeer, opened only once the cluster has a second server.

// peersMarker, in the etcd directory, records that this member has peers, so that
// a restart opens the peer port before etcd waits for a quorum.
const peersMarker = "peers"

// peerHost is the address other servers reach this one's etcd at: the bind
// address, or the default route's address when listening on all of them.
func peerHost(cfg Config) (string, error) {
	if cfg.BindAddress != "" && cfg.BindAddress != "0.0.0.0" && cfg.BindAddress != "::" {
		return cfg.BindAddress, nil
	}
	ip, err := hostnet.DefaultRouteIP()
	if err != nil {
		return "", fmt.Errorf("find this server's address for etcd peers (set --bind-address): %w", err)
	}
	return ip, nil
}

// memberName is this server's etcd member name: --node-name, or the host name.
func memberName(cfg Config) string {
	if cfg.MemberName != "" {
		return cfg.MemberName
	}
	if h, err := os.Hostname(); err == nil {
		return h
	}
	return "skiff"
}

// join trades --token for the cluster's shared files when this server has not
// joined yet, and keeps the etcd membership its member starts with.
func (s *Server) join(ctx context.Context) error {
	cfg := s.cfg
	if cfg.JoinServer == "" || serverjoin.Joined(etcdDir(cfg)) {
		return nil
	}
	if len(cfg.EtcdEndpoints) > 0 || cfg.RestoreSnapshot != "" {
		return fmt.Errorf("--server joins this server's embedded etcd to the cluster's: it goes with neither --etcd-endpoints nor --restore")
	}
	host, err := peerHost(cfg)
	if err != nil {
		return err
	}
	req := serverjoin.Request{Name: memberName(cfg), PeerURL: "https://" + net.JoinHostPort(host, strconv.Itoa(cfg.PeerPort))}
	if s.initialCluster, err = serverjoin.Join(ctx, cfg.JoinServer, cfg.JoinToken, req, cfg.DataDir, cfg.ServiceCIDR, cfg.ClusterCIDR); err != nil {
		return err
	}
	slog.Info("joined the cluster's control plane; starting etcd as a learner", "server", cfg.JoinServer, "members", s.initialCluster)
	return nil
}

func etcdDir(cfg Config) string { return filepath.Join(cfg.DataDir, "etcd") }

// startMember prepares this server's etcd member: its peer certificate, its
// membership (joining when asked), and the peer front when it has peers.
func (s *Server) startMember(ctx context.Context) (*store.Etcd, error) {
	host, err := peerHost(s.cfg)
	if err != nil {
		return nil, err
	}
	peerAddr := net.JoinHostPort(host, strconv.Itoa(s.cfg.PeerPort))
	m := store.Member{Name: memberName(s.cfg), PeerURL: "https://" + peerAddr, CAFile: filepath.Join(s.cfg.DataDir, "tls", "ca.crt"),
		PeerCertFile: filepath.Join(s.cfg.DataDir, "tls", "etcd-peer.crt"), PeerKeyFile: filepath.Join(s.cfg.DataDir, "tls", "etcd-peer.key")}
	cert, err := s.CA.PeerCert(filepath.Join(s.cfg.DataDir, "tls"), "etcd-peer", m.Name, []string{host})
	if err != nil {
		return nil, err
	}
	dir := etcdDir(s.cfg)
	front := &etcdpeer.Front{Addr: peerAddr, Socket: store.PeerSocket(dir), Cert: cert, CA: s.CA.Pool()}
	m.InitialCluster = s.initialCluster
	if m.InitialCluster != "" || (hasPeers(dir) && s.cfg.RestoreSnapshot == "") {
		if err := s.openPeers(ctx, front); err != nil {
			return nil, err
		}
	}
	e, err := startEmbedded(ctx, s.cfg, m)
	if err != nil {
		return nil, err
	}
	if err := waitPromoted(ctx, e); err != nil {
		e.Close()
		return nil, err
	}
	s.cluster = &serverjoin.Cluster{Etcd: e.Client, Self: e.MemberID(), DataDir: s.cfg.DataDir,
		ServiceCIDR: s.cfg.ServiceCIDR, ClusterCIDR: s.cfg.ClusterCIDR,
		EnablePeers: func(rctx context.Context) (string, error) {
			if err := s.openPeers(ctx, front); err != nil {
				return "", err
			}
			return m.PeerURL, s.advertisePeerURL(rctx, e, m.PeerURL)
		}}
	return e, nil
}

func hasPeers(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, peersMarker))
	return err == nil
}

// openPeers opens the peer port (for the life of ctx) and records that it is open.
func (s *Server) openPeers(ctx context.Context, front *etcdpeer.Front) error {
	if err := os.MkdirAll(etcdDir(s.cfg), 0o700); err != nil {
		return err
	}
	if err := front.Start(ctx); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(etcdDir(s.cfg), peersMarker), nil, 0o600)
}

// advertisePeerURL makes the membership name this member's real peer URL: a
// server that ran alone may have recorded a placeholder.
func (s *Server) advertisePeerURL(ctx context.Context, e *store.Etcd, url string) error {
	list, err := e.Client.MemberList(ctx)
	if err != nil {
		return err
	}
	for _, m := range list.Members {
		if m.ID == e.MemberID() && !slices.Equal(m.PeerURLs, []string{url}) {
			_, err = e.Client.MemberUpdate(ctx, m.ID, []string{url})
			return err
		}
	}
	return nil
}

// waitPromoted holds a joining server back until its member votes: a learner
// cannot serve the API's reads and writes.
func waitPromoted(ctx context.Context, e *store.Etcd) error {
	for logged := false; e.Learner(); logged = true {
		if !logged {
			slog.Info("etcd learner catching up; waiting to be promoted to a voting member")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// serverJoinAuth is the server join token's identity, allowed on the join path only.
func serverJoinAuth(secret string) (auth.TokenAuthenticator, auth.Authorizer) {
	return auth.StaticToken{Token: secret, User: auth.User{Name: serverjoin.User, Groups: []string{serverjoin.Group}}}, serverJoinAuthorizer{}
}

// serverJoinAuthorizer lets the server join token POST to the join path, and
// nothing else.
type serverJoinAuthorizer struct{}

func (serverJoinAuthorizer) Authorize(_ context.Context, a auth.Attributes) (bool, string) {
	return a.User != nil && a.User.InGroup(serverjoin.Group) && !a.IsResource() && a.Path == serverjoin.Path && a.Verb == "post", ""
}

// writable refuses a write at once, with 503, while this server's etcd member has
// no leader (fewer than a majority of the servers are up): etcd would only time
// out, and a client gets a clear answer to retry on.
func (a *API) writable(verb string) error {
	switch verb {
	case "get", "list", "watch":
		return nil
	}
	if a.HasQuorum == nil || a.HasQuorum() {
		return nil
	}
	err := apierrors.NewServiceUnavailable("etcd has no quorum: fewer than a majority of the control-plane servers are reachable; " +
		"writes resume when enough of them are back (`skiff server list` shows the members)")
	err.ErrStatus.Details = &metav1.StatusDetails{RetryAfterSeconds: 1}
	return err
}

// etcdUnavailable is the 503 for an etcd error that means "no quorum or leader now".
func etcdUnavailable(err error) error {
	switch rpctypes.ErrorDesc(err) {
	case rpctypes.ErrTimeout.Error(), rpctypes.ErrNoLeader.Error(), rpctypes.ErrLeaderChanged.Error(),
		rpctypes.ErrTimeoutDueToLeaderFail.Error(), rpctypes.ErrTimeoutDueToConnectionLost.Error(), rpctypes.ErrNotCapable.Error():
		e := apierrors.NewServiceUnavailable("etcd could not commit or confirm the request (" + rpctypes.ErrorDesc(err) +
			"): the control plane may have lost its quorum or be electing a leader; retry")
		e.ErrStatus.Details = &metav1.StatusDetails{RetryAfterSeconds: 1}
		return e
	}
	return nil
}
