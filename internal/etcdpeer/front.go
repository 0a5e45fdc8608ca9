// Package etcdpeer is the network side of the embedded etcd's peer traffic: a
// mutual-TLS front on the peer port that forwards to the member's private unix
// socket. It runs only once a cluster has a second server; a single server opens
// no port for etcd at all.
package etcdpeer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"skiff/internal/pki"
)

// Front accepts peer connections on addr and pipes them to socket. A peer must
// present a certificate of the cluster CA that is an etcd peer certificate (an
// agent's or a user's certificate of the same CA is refused).
type Front struct {
	Addr   string
	Socket string
	Cert   tls.Certificate
	CA     *x509.CertPool

	mu       sync.Mutex
	listener net.Listener
}

// Start listens; connections are served until ctx ends. Starting twice is a no-op.
func (f *Front) Start(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listener != nil {
		return nil
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{f.Cert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    f.CA,
		MinVersion:   tls.VersionTLS12,
		VerifyPeerCertificate: func(_ [][]byte, chains [][]*x509.Certificate) error {
			if len(chains) == 0 || !slices.Contains(chains[0][0].Subject.Organization, pki.PeerGroup) {
				return errors.New("not an etcd peer certificate")
			}
			return nil
		},
	}
	l, err := tls.Listen("tcp", f.Addr, cfg)
	if err != nil {
		return fmt.Errorf("etcd peer port %s: %w", f.Addr, err)
	}
	f.listener = l
	slog.Info("etcd peer port open (mutual TLS, etcd peer certificates of the cluster CA only)", "address", f.Addr)
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	go f.serve(l)
	return nil
}

func (f *Front) serve(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go f.pipe(c.(*tls.Conn))
	}
}

// pipe finishes the handshake (refusing foreign certificates) and copies bytes
// both ways until either side closes.
func (f *Front) pipe(c *tls.Conn) {
	defer c.Close()
	hctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	err := c.HandshakeContext(hctx)
	cancel()
	if err != nil {
		slog.Debug("etcd peer handshake refused", "remote", c.RemoteAddr(), "err", err)
		return
	}
	u, err := net.Dial("unix", f.Socket)
	if err != nil {
		slog.Warn("etcd peer socket unreachable", "socket", f.Socket, "err", err)
		return
	}
	defer u.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(u, c); u.(*net.UnixConn).CloseWrite(); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, u); _ = c.CloseWrite(); done <- struct{}{} }()
	<-done
	<-done
}
