// Package netpol enforces NetworkPolicies (networking.k8s.io/v1) for the pods of
// one node, in an nftables table of its own.
//
// The rules are computed by a pure function (Build) from the informers' pods,
// namespaces, policies and the cluster DNS's endpoints, and applied through
// nfttable as patches: a pod or label change adds or removes set elements keyed
// by pod address; a policy change rewrites that policy's chain.
//
// The table outlives the agent: while it restarts, pods stay as isolated as they
// were. `skiff agent reset` deletes it.
//
// Host requirements: the nft binary, and on bridged pod networks br_netfilter with
// net.bridge.bridge-nf-call-iptables=1 (the node agent sets both up for its pod
// network), without which traffic between pods on one bridge is not filtered.
package netpol

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	networkinglisters "k8s.io/client-go/listers/networking/v1"
	"k8s.io/client-go/tools/cache"
	"sigs.k8s.io/knftables"

	"skiff/internal/dns"
	"skiff/internal/nfttable"
)

// Config says which node's pods to protect and where.
type Config struct {
	NodeName string
	// TableName is the nftables table (family ip) the enforcer owns.
	TableName string
	// MinSyncInterval is the shortest time between two syncs; changes arriving
	// meanwhile are batched into the next one. Default 100ms.
	MinSyncInterval time.Duration
}

// Enforcer keeps the table in line with the policies and pods.
type Enforcer struct {
	cfg        Config
	nft        knftables.Interface
	pods       corelisters.PodLister
	namespaces corelisters.NamespaceLister
	policies   networkinglisters.NetworkPolicyLister
	services   corelisters.ServiceLister
	slices     discoverylisters.EndpointSliceLister
	synced     []cache.InformerSynced
	changed    chan struct{}
	applied    *nfttable.Ruleset
}

// New checks cfg and nft and registers event handlers on factory's informers; the
// caller starts the factory and then Run.
func New(factory informers.SharedInformerFactory, cfg Config) (*Enforcer, error) {
	if cfg.TableName == "" || cfg.NodeName == "" {
		return nil, fmt.Errorf("network policy: node and table name are required")
	}
	nft, err := knftables.New(knftables.IPv4Family, cfg.TableName)
	if err != nil {
		return nil, fmt.Errorf("network policy needs nftables: %w", err)
	}
	return newEnforcer(factory, cfg, nft)
}

func newEnforcer(factory informers.SharedInformerFactory, cfg Config, nft knftables.Interface) (*Enforcer, error) {
	if cfg.MinSyncInterval <= 0 {
		cfg.MinSyncInterval = 100 * time.Millisecond
	}
	e := &Enforcer{cfg: cfg, nft: nft, changed: make(chan struct{}, 1)}
	pods, nss := factory.Core().V1().Pods(), factory.Core().V1().Namespaces()
	pols := factory.Networking().V1().NetworkPolicies()
	svcs, slices := factory.Core().V1().Services(), factory.Discovery().V1().EndpointSlices()
	e.pods, e.namespaces, e.policies = pods.Lister(), nss.Lister(), pols.Lister()
	e.services, e.slices = svcs.Lister(), slices.Lister()
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { e.trigger() },
		UpdateFunc: func(_, _ any) { e.trigger() },
		DeleteFunc: func(any) { e.trigger() },
	}
	// Pods change status often; only what the rules read makes a sync.
	podHandler := handler
	podHandler.UpdateFunc = func(old, cur any) {
		o, ok1 := old.(*corev1.Pod)
		c, ok2 := cur.(*corev1.Pod)
		if !ok1 || !ok2 || !samePolicyView(o, c) {
			e.trigger()
		}
	}
	// Services and slices matter only for the cluster DNS; the proxy watches them
	// all anyway, so the filter costs no second watch.
	dnsOnly := cache.FilteringResourceEventHandler{Handler: handler, FilterFunc: isDNSObject}
	for _, inf := range []struct {
		informer cache.SharedIndexInformer
		handler  cache.ResourceEventHandler
	}{{pods.Informer(), podHandler}, {nss.Informer(), handler}, {pols.Informer(), handler},
		{svcs.Informer(), dnsOnly}, {slices.Informer(), dnsOnly}} {
		if _, err := inf.informer.AddEventHandler(inf.handler); err != nil {
			return nil, err
		}
		e.synced = append(e.synced, inf.informer.HasSynced)
	}
	return e, nil
}

// samePolicyView reports whether two versions of a pod look the same to Build.
func samePolicyView(a, b *corev1.Pod) bool {
	ma, mb := podMember(a), podMember(b)
	if ma == nil || mb == nil {
		return ma == nil && mb == nil
	}
	return a.Spec.NodeName == b.Spec.NodeName && ma.ip == mb.ip && maps.Equal(ma.labels, mb.labels) &&
		slices.Equal(ma.ports, mb.ports)
}

func isDNSObject(obj any) bool {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	switch o := obj.(type) {
	case *corev1.Service:
		return o.Namespace == dns.ServiceNamespace && o.Name == dns.ServiceName
	case *discoveryv1.EndpointSlice:
		return o.Namespace == dns.ServiceNamespace && o.Labels[discoveryv1.LabelServiceName] == dns.ServiceName
	}
	return false
}

func (e *Enforcer) trigger() {
	select {
	case e.changed <- struct{}{}:
	default:
	}
}

// Run waits for the informers and keeps the table in sync until ctx ends. The
// table stays when it returns.
func (e *Enforcer) Run(ctx context.Context) {
	log := slog.With("component", "netpol", "table", e.cfg.TableName)
	if !cache.WaitForCacheSync(ctx.Done(), e.synced...) {
		return
	}
	checkBridgeNetfilter(log)
	log.Info("network policy enforcement started", "node", e.cfg.NodeName)
	e.trigger()
	nfttable.Loop(ctx, log, e.changed, e.cfg.MinSyncInterval, e.sync)
}

func (e *Enforcer) sync(ctx context.Context) error {
	start := time.Now()
	st, err := e.state()
	if err != nil {
		return err
	}
	want := Build(st)
	ops, full, err := nfttable.Apply(ctx, e.nft, e.applied, want)
	if err != nil {
		e.applied = nil
		return err
	}
	e.applied = want
	slog.Debug("network policy rules synced", "table", e.cfg.TableName, "full", full, "ops", ops, "took", time.Since(start))
	return nil
}

func (e *Enforcer) state() (State, error) {
	st := State{NodeName: e.cfg.NodeName}
	var err error
	if st.Pods, err = e.pods.List(labels.Everything()); err != nil {
		return st, err
	}
	if st.Namespaces, err = e.namespaces.List(labels.Everything()); err != nil {
		return st, err
	}
	if st.Policies, err = e.policies.List(labels.Everything()); err != nil {
		return st, err
	}
	st.DNSService, err = e.services.Services(dns.ServiceNamespace).Get(dns.ServiceName)
	if errors.IsNotFound(err) {
		return st, nil
	}
	if err != nil {
		return st, err
	}
	st.DNSSlices, err = e.slices.EndpointSlices(dns.ServiceNamespace).List(
		labels.SelectorFromSet(labels.Set{discoveryv1.LabelServiceName: dns.ServiceName}))
	return st, err
}

// checkBridgeNetfilter warns when pods on one bridge would bypass the rules.
func checkBridgeNetfilter(log *slog.Logger) {
	const p = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	if b, err := os.ReadFile(p); err != nil || strings.TrimSpace(string(b)) != "1" {
		log.Warn("bridged traffic bypasses nftables (br_netfilter not loaded or " + p + " is not 1): pods on one bridge are not isolated from each other")
	}
}
