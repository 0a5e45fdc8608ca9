// Package dns is skiff's cluster DNS server: it answers the names of the Kubernetes
// DNS specification (services, headless endpoints, StatefulSet pods, SRV, PTR,
// ExternalName) from informer caches and forwards every other name to the host's
// resolvers. Each node agent runs one, published behind the kube-dns Service.
package dns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"

	mdns "github.com/miekg/dns"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// Config configures a Server.
type Config struct {
	// ClusterDomain is the zone served from the API, "cluster.local" by default.
	ClusterDomain string
	// Listen holds "ip:port" addresses, each served over UDP and TCP. Port 0 picks
	// one free port for both; Addrs reports it.
	Listen []string
	// Upstreams are the "ip:port" resolvers for names outside the cluster. Nil reads
	// the host's /etc/resolv.conf; an empty, non-nil slice disables forwarding, and
	// such names get SERVFAIL at once.
	Upstreams []string
	// ServiceCIDR is the service network (comma-separated for dual stack). Reverse
	// lookups inside it are answered here, NXDOMAIN when unallocated.
	ServiceCIDR string
	// TTL of every cluster record; 5 s by default.
	TTL time.Duration
	// ForwardTimeout bounds one upstream exchange; 2 s by default.
	ForwardTimeout time.Duration
}

// Server is a cluster DNS server. Build it with New, then Run it.
type Server struct {
	cfg      Config
	store    *store
	resolver *resolver
	forward  *forwarder
	metrics  *metrics
	log      *slog.Logger

	mu    sync.Mutex
	addrs []string
	ready chan struct{}
}

// New builds a server answering from the factory's Service, EndpointSlice and Pod
// informers. The caller starts the factory; Run waits for the caches to sync.
func New(f informers.SharedInformerFactory, cfg Config) (*Server, error) {
	cfg, prefixes, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	st, err := newStore(f)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:     cfg,
		store:   st,
		forward: newForwarder(cfg.Upstreams, cfg.ForwardTimeout),
		metrics: newMetrics(),
		log:     slog.Default().With("component", "dns"),
		ready:   make(chan struct{}),
	}
	s.resolver = &resolver{
		store:    st,
		zone:     mdns.Fqdn(strings.ToLower(cfg.ClusterDomain)),
		ttl:      uint32(cfg.TTL / time.Second),
		services: prefixes,
	}
	return s, nil
}

func (c Config) withDefaults() (Config, []netip.Prefix, error) {
	if c.ClusterDomain == "" {
		c.ClusterDomain = "cluster.local"
	}
	c.ClusterDomain = strings.TrimSuffix(c.ClusterDomain, ".")
	if len(c.Listen) == 0 {
		return c, nil, errors.New("dns: no listen address")
	}
	if c.TTL <= 0 {
		c.TTL = 5 * time.Second
	}
	if c.ForwardTimeout <= 0 {
		c.ForwardTimeout = 2 * time.Second
	}
	if c.Upstreams == nil {
		ups, err := HostUpstreams("/etc/resolv.conf")
		if err != nil {
			slog.Warn("dns: no host resolvers; names outside the cluster will fail", "err", err)
		}
		c.Upstreams = ups
	}
	c.Upstreams = withoutSelf(c.Upstreams, c.Listen)
	var prefixes []netip.Prefix
	for _, raw := range strings.Split(c.ServiceCIDR, ",") {
		if raw = strings.TrimSpace(raw); raw == "" {
			continue
		}
		p, err := netip.ParsePrefix(raw)
		if err != nil {
			return c, nil, fmt.Errorf("dns: service CIDR %q: %w", raw, err)
		}
		prefixes = append(prefixes, p.Masked())
	}
	return c, prefixes, nil
}

// Run waits for the informer caches, serves every listen address over UDP and TCP
// and stops when ctx is done. A listen error stops all of them.
func (s *Server) Run(ctx context.Context) error {
	if !cache.WaitForCacheSync(ctx.Done(), s.store.synced...) {
		return nil // stopped before the caches synced: a clean stop all the same
	}
	servers, addrs, err := s.listen()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.addrs = addrs
	s.mu.Unlock()
	close(s.ready)
	s.log.Info("serving cluster DNS", "addrs", addrs, "zone", s.resolver.zone, "upstreams", s.cfg.Upstreams)

	errc := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errc <- srv.ActivateAndServe() }()
	}
	select {
	case <-ctx.Done():
		err = nil
	case err = <-errc:
		err = fmt.Errorf("dns: serve: %w", err)
	}
	for _, srv := range servers {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = srv.ShutdownContext(sctx)
		cancel()
	}
	return err
}

// Ready is closed once the server is listening.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the bound "ip:port" addresses (the same port serves UDP and TCP);
// it is empty until Ready is closed.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.addrs...)
}
