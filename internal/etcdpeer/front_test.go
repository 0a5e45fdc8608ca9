package etcdpeer

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"testing"

	"skiff/internal/pki"
)

// TestFrontAdmitsOnlyPeerCertificates: a peer certificate of the cluster CA gets
// through to the socket; a client certificate of the same CA (an agent's, an
// admin's) and no certificate at all do not.
func TestFrontAdmitsOnlyPeerCertificates(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ca.PeerCert(dir, "peer", "m1", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	socket := filepath.Join(dir, "peer.sock")
	ul, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	defer ul.Close()
	go func() {
		for {
			c, err := ul.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, "etcd")
			c.Close()
		}
	}()
	port, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := port.Addr().String()
	port.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &Front{Addr: addr, Socket: socket, Cert: peer, CA: ca.Pool()}
	if err := f.Start(ctx); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.ClientCert(dir, "admin", "admin", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	read := func(certs []tls.Certificate) string {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.Pool(), Certificates: certs, MinVersion: tls.VersionTLS12})
		if err != nil {
			return ""
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		return string(b)
	}
	if got := read([]tls.Certificate{peer}); got != "etcd" {
		t.Fatalf("peer certificate: read %q, want etcd", got)
	}
	if got := read([]tls.Certificate{admin}); got != "" {
		t.Fatalf("admin certificate reached etcd: %q", got)
	}
	if got := read(nil); got != "" {
		t.Fatalf("no certificate reached etcd: %q", got)
	}
}
