package agent

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/dns"
	"skiff/internal/ingress"
	"skiff/internal/netpol"
	"skiff/internal/proxy"
)

// hostResolvConf is what pods with dnsPolicy Default (and the DNS server's forwarding)
// use.
const hostResolvConf = "/etc/resolv.conf"

// nodeServices runs what every node serves besides pods: the service proxy, network
// policy enforcement, the cluster DNS and the ingress controller. It returns the pods' DNS configuration for the
// kubelet, and a channel closed once the proxy has removed its rules after ctx ends.
func nodeServices(ctx context.Context, cfg Config, client kubernetes.Interface) (func(*corev1.Pod) *runtimeapi.DNSConfig, <-chan struct{}, error) {
	dnsIP, err := nthAddr(cfg.ServiceCIDR, 10)
	if err != nil {
		return nil, nil, err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	px, err := proxy.New(client, factory, proxy.Config{NodeName: cfg.NodeName,
		NodeIPs: []net.IP{net.ParseIP(cfg.NodeIP)}, ClusterCIDR: cfg.ClusterCIDR, TableName: proxyTable(cfg.NodeName)})
	if err != nil {
		return nil, nil, fmt.Errorf("service proxy: %w", err)
	}
	enforcer, err := netpol.New(factory, netpol.Config{NodeName: cfg.NodeName, TableName: policyTable(cfg.NodeName)})
	if err != nil {
		return nil, nil, err
	}
	dnsSrv, err := dns.New(factory, dns.Config{
		ClusterDomain: cfg.ClusterDomain, ServiceCIDR: cfg.ServiceCIDR,
		Listen: []string{net.JoinHostPort(cfg.NodeIP, strconv.Itoa(cfg.DNSPort))},
	})
	if err != nil {
		return nil, nil, err
	}
	var ing *ingress.Controller
	if cfg.IngressHTTPPort != 0 || cfg.IngressHTTPSPort != 0 {
		ic := ingress.Config{NodeName: cfg.NodeName}
		if cfg.IngressHTTPPort != 0 {
			ic.HTTPAddrs = []string{fmt.Sprintf(":%d", cfg.IngressHTTPPort)}
		}
		if cfg.IngressHTTPSPort != 0 {
			ic.HTTPSAddrs = []string{fmt.Sprintf(":%d", cfg.IngressHTTPSPort)}
		}
		if ing, err = ingress.New(client, factory, ic); err != nil {
			return nil, nil, err
		}
	}
	factory.Start(ctx.Done())
	proxyDone := make(chan struct{})
	go func() { defer close(proxyDone); px.Run(ctx) }()
	go enforcer.Run(ctx)
	go func() {
		if err := dnsSrv.Run(ctx); err != nil && ctx.Err() == nil {
			slog.Error("cluster DNS stopped", "err", err)
		}
	}()
	if ing != nil {
		go func() {
			if err := ing.Run(ctx); err != nil && ctx.Err() == nil {
				slog.Error("ingress controller stopped", "err", err)
			}
		}()
	}
	go publishDNS(ctx, client, cfg, dnsSrv, dnsIP.String())
	return func(pod *corev1.Pod) *runtimeapi.DNSConfig {
		servers, searches, options := dns.PodDNSConfig(pod, dnsIP.String(), cfg.ClusterDomain, hostResolvConf)
		return &runtimeapi.DNSConfig{Servers: servers, Searches: searches, Options: options}
	}, proxyDone, nil
}

// proxyTable names the node's nftables table; several agents on one machine each
// keep their own.
func proxyTable(node string) string {
	name := "skiff-proxy-" + node
	if len(name) > 32 {
		name = name[:32]
	}
	return name
}

// policyTable names the node's network-policy table; it stays while the agent is
// stopped and goes with `skiff agent reset`.
func policyTable(node string) string {
	name := "skiff-netpol-" + node
	if len(name) > 32 {
		name = name[:32]
	}
	return name
}

// publishDNS puts this node's DNS server behind the kube-dns Service once it listens.
func publishDNS(ctx context.Context, client kubernetes.Interface, cfg Config, srv *dns.Server, serviceIP string) {
	select {
	case <-srv.Ready():
	case <-ctx.Done():
		return
	}
	addrs := srv.Addrs()
	if len(addrs) == 0 {
		return
	}
	_, port, _ := net.SplitHostPort(addrs[0])
	p, _ := strconv.Atoi(port)
	dns.KeepPublished(ctx, client, cfg.NodeName, net.ParseIP(cfg.NodeIP), int32(p), serviceIP, time.Minute)
}

// nthAddr is the n-th address of a CIDR (the DNS service is the service range's .10).
func nthAddr(cidr string, n int) (netip.Addr, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("service CIDR %q: %w", cidr, err)
	}
	a := p.Masked().Addr()
	for i := 0; i < n; i++ {
		a = a.Next()
	}
	return a, nil
}
