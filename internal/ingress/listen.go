package ingress

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/cache"
)

// server is one bound listener and the HTTP server on it.
type server struct {
	http *http.Server
	l    net.Listener
	tls  bool
}

func (s *server) serve() error {
	var err error
	if s.tls {
		err = s.http.ServeTLS(s.l, "", "")
	} else {
		err = s.http.Serve(s.l)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// listen binds every address before serving any, so a port in use fails Run
// instead of leaving the node half-served. HTTPS is bound first: the HTTP
// handler needs its port for redirects.
func (c *Controller) listen() ([]*server, error) {
	var out []*server
	fail := func(err error) ([]*server, error) {
		for _, s := range out {
			s.l.Close()
		}
		return nil, err
	}
	httpsPort := ""
	for _, addr := range c.cfg.HTTPSAddrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(fmt.Errorf("ingress: listen https %s: %w", addr, err))
		}
		if httpsPort == "" {
			_, httpsPort, _ = net.SplitHostPort(l.Addr().String())
		}
		srv := c.httpServer(&handler{c: c})
		srv.TLSConfig = &tls.Config{GetCertificate: c.certificate, MinVersion: tls.VersionTLS12}
		out = append(out, &server{http: srv, l: l, tls: true})
		c.addAddr("https", l.Addr().String())
	}
	for _, addr := range c.cfg.HTTPAddrs {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(fmt.Errorf("ingress: listen http %s: %w", addr, err))
		}
		out = append(out, &server{http: c.httpServer(&handler{c: c, httpsPort: httpsPort}), l: l})
		c.addAddr("http", l.Addr().String())
	}
	return out, nil
}

func (c *Controller) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler: h,
		// No read or write timeout: uploads, downloads, streams and WebSockets
		// may last as long as they like. Only slow headers are cut off.
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// Handshake failures from scanners are noise at the default level.
		ErrorLog: slog.NewLogLogger(c.log.Handler(), slog.LevelDebug),
	}
}

func (c *Controller) addAddr(proto, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.addrs[proto] = append(c.addrs[proto], addr)
}

// certificate picks the certificate for a TLS handshake from the current table.
func (c *Controller) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := c.table.Load().certs.lookup(hello.ServerName); cert != nil {
		return cert, nil
	}
	return c.defaultCert, nil
}

// shutdown lets in-flight requests finish for a few seconds, then closes.
func shutdown(ctx context.Context, servers []*server) {
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		if err := s.http.Shutdown(sctx); err != nil {
			s.http.Close()
		}
	}
}

func isTLSSecret(obj any) bool {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	s, ok := obj.(*corev1.Secret)
	return ok && (s.Type == corev1.SecretTypeTLS || len(s.Data[corev1.TLSCertKey]) > 0)
}

// filtered calls fn for the objects keep accepts, before or after a change.
func filtered(keep func(any) bool, fn func()) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc: func(o any) {
			if keep(o) {
				fn()
			}
		},
		UpdateFunc: func(old, cur any) {
			if keep(old) || keep(cur) {
				fn()
			}
		},
		DeleteFunc: func(o any) {
			if keep(o) {
				fn()
			}
		},
	}
}

// nodeHandler calls fn when a node appears, goes, or changes address or
// readiness, and ignores heartbeats.
func nodeHandler(fn func()) cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { fn() },
		DeleteFunc: func(any) { fn() },
		UpdateFunc: func(old, cur any) {
			a, ok1 := old.(*corev1.Node)
			b, ok2 := cur.(*corev1.Node)
			if !ok1 || !ok2 || nodeReady(a) != nodeReady(b) || !equality.Semantic.DeepEqual(a.Status.Addresses, b.Status.Addresses) {
				fn()
			}
		},
	}
}
