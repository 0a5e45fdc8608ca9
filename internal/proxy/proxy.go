// Package proxy is skiff's service proxy (the seeds' kube-proxy): it turns Services
// and EndpointSlices into one nftables table that DNATs ClusterIPs, NodePorts,
// external and load-balancer IPs to endpoints.
//
// The rules are computed by a pure function (Build) from the informers' state and
// applied as one nft transaction that patches the previous table into the new one.
// The table is removed when Run returns.
//
// Host requirements: the nft binary (nftables >= 1.0.1), net.ipv4.conf.all.route_localnet=1
// (NodePorts on 127.0.0.1) and, on bridged pod networks, the br_netfilter module with
// net.bridge.bridge-nf-call-iptables=1; Run sets both sysctls. The conntrack binary
// (conntrack-tools) is used to flush stale UDP flows; without it they expire on their own.
package proxy

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/knftables"

	"skiff/internal/nfttable"
)

// DefaultTableName is the nftables table the proxy owns unless told otherwise.
const DefaultTableName = "skiff-proxy"

// Config is what the node agent knows about the node the proxy runs on.
type Config struct {
	// NodeName selects this node's endpoints for the Local traffic policies.
	NodeName string
	// NodeIPs are the node's addresses; logged for operators, and the IPv4 ones say
	// the node can serve IPv4 services (the proxy does not program IPv6 yet).
	NodeIPs []net.IP
	// ClusterCIDR is the pod range (comma-separated for several). Traffic to a
	// ClusterIP from outside it is masqueraded; empty disables that.
	ClusterCIDR string
	// TableName is the nftables table (family ip) the proxy owns; default
	// DefaultTableName. Tests use unique names.
	TableName string
	// NodePortAddresses are CIDRs (or single IPs) NodePorts answer on. Empty means
	// every local address, 127.0.0.1 included.
	NodePortAddresses []string
	// MinSyncInterval is the shortest time between two syncs; changes arriving
	// meanwhile are batched into the next one. Default 100ms.
	MinSyncInterval time.Duration
}

// Proxier keeps the table in line with the Services and EndpointSlices.
type Proxier struct {
	cfg           Config
	clusterCIDRs  []string
	nodePortCIDRs []string
	nft           knftables.Interface
	services      corelisters.ServiceLister
	slices        discoverylisters.EndpointSliceLister
	synced        []cache.InformerSynced
	changed       chan struct{}
	metrics       *metrics
	conntrack     func(ctx context.Context, args ...string) error

	// applied is what the last successful sync wrote; nil forces a rebuild.
	applied *nfttable.Ruleset
	// gone is set when the table was found missing (someone deleted it): the
	// next sync rebuilds it rather than patching what is no longer there.
	gone  atomic.Bool
	flows map[Flow]bool
}

// New checks cfg and nft, and registers event handlers on the Service and
// EndpointSlice informers of factory; the caller starts the factory and then Run.
// client is accepted so that the call does not change when the proxy starts
// reading more of the API.
func New(client kubernetes.Interface, factory informers.SharedInformerFactory, cfg Config) (*Proxier, error) {
	_ = client
	if cfg.TableName == "" {
		cfg.TableName = DefaultTableName
	}
	nft, err := knftables.New(knftables.IPv4Family, cfg.TableName)
	if err != nil {
		return nil, fmt.Errorf("service proxy needs nftables: %w", err)
	}
	return newProxier(factory, cfg, nft)
}

func newProxier(factory informers.SharedInformerFactory, cfg Config, nft knftables.Interface) (*Proxier, error) {
	if cfg.MinSyncInterval <= 0 {
		cfg.MinSyncInterval = 100 * time.Millisecond
	}
	clusterCIDRs, err := parseCIDRs(cfg.ClusterCIDR)
	if err != nil {
		return nil, fmt.Errorf("cluster CIDR: %w", err)
	}
	nodePortCIDRs, err := parseCIDRs(strings.Join(cfg.NodePortAddresses, ","))
	if err != nil {
		return nil, fmt.Errorf("NodePort addresses: %w", err)
	}
	p := &Proxier{
		cfg: cfg, clusterCIDRs: clusterCIDRs, nodePortCIDRs: nodePortCIDRs, nft: nft,
		changed: make(chan struct{}, 1), metrics: newMetrics(), conntrack: runConntrack,
	}
	svcInf := factory.Core().V1().Services()
	sliceInf := factory.Discovery().V1().EndpointSlices()
	p.services, p.slices = svcInf.Lister(), sliceInf.Lister()
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { p.trigger() },
		UpdateFunc: func(_, _ any) { p.trigger() },
		DeleteFunc: func(any) { p.trigger() },
	}
	for _, inf := range []cache.SharedIndexInformer{svcInf.Informer(), sliceInf.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return nil, err
		}
		p.synced = append(p.synced, inf.HasSynced)
	}
	return p, nil
}

// parseCIDRs returns the IPv4 prefixes in a comma-separated list; a bare address
// counts as a /32. IPv6 entries are skipped, since the table is IPv4 only.
func parseCIDRs(list string) ([]string, error) {
	var out []string
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(s)
		if err != nil {
			addr, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, err
			}
			pfx = netip.PrefixFrom(addr, addr.BitLen())
		}
		if pfx.Addr().Is4() {
			out = append(out, pfx.Masked().String())
		}
	}
	return out, nil
}

// trigger asks for a sync; several triggers before it runs make one sync.
func (p *Proxier) trigger() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// Run waits for the informers, keeps the table in sync until ctx ends, then
// deletes the table.
func (p *Proxier) Run(ctx context.Context) {
	log := slog.With("component", "proxy", "table", p.cfg.TableName)
	defer p.cleanup(log)
	ensureSysctls(log)
	if !cache.WaitForCacheSync(ctx.Done(), p.synced...) {
		return
	}
	log.Info("service proxy started", "node", p.cfg.NodeName, "nodeIPs", p.cfg.NodeIPs, "clusterCIDRs", p.clusterCIDRs)
	p.trigger()
	go p.watchTable(ctx, log)
	nfttable.Loop(ctx, log, p.changed, p.cfg.MinSyncInterval, p.sync)
}

// tableCheckInterval is how often the proxy checks that its table still exists.
const tableCheckInterval = 5 * time.Second

// watchTable rebuilds the table when it disappears (`nft delete table`, a
// firewall reload): without a change to Services nothing else would notice.
func (p *Proxier) watchTable(ctx context.Context, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(tableCheckInterval):
		}
		if p.checkTable(ctx) {
			log.Warn("service proxy table missing; rebuilding it")
		}
	}
}

// checkTable reports whether the table is missing, and then has it rebuilt.
func (p *Proxier) checkTable(ctx context.Context) bool {
	if _, err := p.nft.List(ctx, "chains"); !knftables.IsNotFound(err) {
		return false
	}
	p.gone.Store(true)
	p.trigger()
	return true
}

// sync makes the table match the informers' current state.
func (p *Proxier) sync(ctx context.Context) error {
	start := time.Now()
	st, err := p.state()
	if err != nil {
		return err
	}
	want, flows := Build(st)
	if p.gone.Swap(false) {
		p.applied = nil
	}
	ops, full, err := nfttable.Apply(ctx, p.nft, p.applied, want)
	if err != nil {
		p.applied = nil
		p.metrics.errors.Inc()
		return err
	}
	p.applied = want
	stale := staleFlows(p.flows, flows)
	p.flows = flows
	p.flushFlows(ctx, stale)
	took := time.Since(start)
	p.metrics.duration.Observe(took.Seconds())
	p.metrics.lastSync.SetToCurrentTime()
	slog.Debug("proxy rules synced", "table", p.cfg.TableName, "full", full, "ops", ops, "took", took)
	return nil
}

func (p *Proxier) state() (State, error) {
	svcs, err := p.services.List(labels.Everything())
	if err != nil {
		return State{}, err
	}
	slices, err := p.slices.List(labels.Everything())
	if err != nil {
		return State{}, err
	}
	return State{Services: svcs, Slices: slices, NodeName: p.cfg.NodeName,
		ClusterCIDRs: p.clusterCIDRs, NodePortCIDRs: p.nodePortCIDRs}, nil
}

// cleanup removes the table.
func (p *Proxier) cleanup(log *slog.Logger) {
	if err := nfttable.Delete(p.nft); err != nil {
		log.Error("could not delete the proxy table", "err", err)
	} else {
		log.Info("service proxy stopped; table deleted")
	}
	p.applied = nil
}
