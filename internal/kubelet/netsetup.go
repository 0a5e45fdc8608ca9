package kubelet

import (
	"context"
	"log/slog"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"skiff/internal/kubelet/network"
)

// ipamDir keeps host-local's address records per node, so agents sharing a machine
// do not hand out each other's addresses.
func (k *Kubelet) ipamDir() string { return filepath.Join(k.cfg.RootDir, "cni", "ipam") }

// nodeChanged reacts to any Node event: our own node's pod CIDR enables the pod
// network; every node's CIDR and address feed the routes.
func (k *Kubelet) nodeChanged(ctx context.Context, obj any) {
	if n, ok := obj.(*corev1.Node); ok && n.Name == k.cfg.NodeName && !k.networkReady.Load() {
		k.setupNetwork(ctx, n)
	}
	if k.cfg.ManageNetwork && k.networkReady.Load() {
		k.syncRoutes()
	}
}

func (k *Kubelet) setupNetwork(ctx context.Context, n *corev1.Node) {
	cidrs := n.Spec.PodCIDRs
	if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
		cidrs = []string{n.Spec.PodCIDR}
	}
	if len(cidrs) == 0 {
		return
	}
	if k.cfg.ManageNetwork {
		if err := network.EnsureSysctls(); err != nil {
			slog.Error("pod network: host settings", "err", err)
			return
		}
		if err := network.EnsureMasquerade(ctx, k.cfg.NodeName, cidrs, k.cfg.ClusterCIDR); err != nil {
			slog.Error("pod network: masquerade", "err", err)
			return
		}
	}
	wrote, err := network.WriteCNIConfig(k.cfg.CNIConfDir, network.CNIOptions{
		Node: k.cfg.NodeName, PodCIDRs: cidrs, IPAMDir: k.ipamDir(), HairpinOn: true})
	if err != nil {
		slog.Error("pod network: CNI config", "err", err)
		return
	}
	if wrote {
		slog.Info("pod network configured", "node", k.cfg.NodeName, "podCIDRs", cidrs, "bridge", network.BridgeName(k.cfg.NodeName))
	}
	k.networkReady.Store(true)
	go func() { _ = k.syncNodeStatus(ctx, false) }()
	k.wakeAll()
}

func (k *Kubelet) syncRoutes() {
	nodes, err := k.nodes.List(labels.Everything())
	if err != nil {
		return
	}
	all := map[string]network.NodeNet{}
	for _, n := range nodes {
		nn := network.NodeNet{PodCIDRs: n.Spec.PodCIDRs}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP && nn.IP == "" {
				nn.IP = a.Address
			}
		}
		all[n.Name] = nn
	}
	if err := network.SyncRoutes(network.DesiredRoutes(k.cfg.NodeName, all, network.LocalAddress)); err != nil {
		slog.Warn("routes to other nodes", "err", err)
	}
}
