package network

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"

	"sigs.k8s.io/knftables"
)

// EnsureSysctls turns on forwarding and makes bridged traffic visible to the
// netfilter hooks the service proxy installs (br_netfilter).
func EnsureSysctls() error {
	const bridgeNF = "/proc/sys/net/bridge/bridge-nf-call-iptables"
	if _, err := os.Stat(bridgeNF); err != nil {
		if out, err := exec.Command("modprobe", "br_netfilter").CombinedOutput(); err != nil {
			return fmt.Errorf("modprobe br_netfilter: %v: %s", err, bytes.TrimSpace(out))
		}
	}
	for _, p := range []string{"/proc/sys/net/ipv4/ip_forward", bridgeNF} {
		if err := os.WriteFile(p, []byte("1"), 0o644); err != nil {
			return fmt.Errorf("set %s: %w", p, err)
		}
	}
	return nil
}

// MasqTable is the nftables table (family ip) holding the node's masquerade rule.
func MasqTable(node string) string { return "skiff-masq-" + nodeHash(node) }

// EnsureMasquerade (re)writes the node's table so that traffic from its pod CIDRs to
// anywhere outside the cluster CIDR leaves with the node's address; pod-to-pod
// traffic across nodes keeps its source IP.
func EnsureMasquerade(ctx context.Context, node string, podCIDRs []string, clusterCIDR string) error {
	nft, err := knftables.New(knftables.IPv4Family, MasqTable(node))
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	tx := nft.NewTransaction()
	tx.Add(&knftables.Table{Comment: knftables.PtrTo("skiff node " + node + ": pod masquerade")})
	tx.Add(&knftables.Chain{Name: "postrouting", Type: knftables.PtrTo(knftables.NATType),
		Hook: knftables.PtrTo(knftables.PostroutingHook), Priority: knftables.PtrTo(knftables.SNATPriority)})
	tx.Flush(&knftables.Chain{Name: "postrouting"})
	for _, c := range podCIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil || !p.Addr().Is4() {
			continue
		}
		tx.Add(&knftables.Rule{Chain: "postrouting",
			Rule: knftables.Concat("ip saddr", p.Masked().String(), "ip daddr !=", clusterCIDR, "masquerade")})
	}
	return nft.Run(ctx, tx)
}

// DeleteMasquerade removes the node's table.
func DeleteMasquerade(ctx context.Context, node string) error {
	nft, err := knftables.New(knftables.IPv4Family, MasqTable(node))
	if err != nil {
		return err
	}
	tx := nft.NewTransaction()
	tx.Delete(&knftables.Table{})
	if err := nft.Run(ctx, tx); err != nil && !knftables.IsNotFound(err) {
		return err
	}
	return nil
}

// DeleteBridge removes the node's bridge, if the CNI plugin created it.
func DeleteBridge(node string) error {
	name := BridgeName(node)
	if _, err := net.InterfaceByName(name); err != nil {
		return nil
	}
	if out, err := exec.Command("ip", "link", "del", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip link del %s: %v: %s", name, err, bytes.TrimSpace(out))
	}
	return nil
}

// routeProto tags the routes the agent owns, so it can find and remove them.
const routeProto = "199"

// Route is a pod CIDR reached through another node.
type Route struct {
	CIDR    string
	Gateway string
}

// DesiredRoutes returns a route for every other node's pod CIDRs, skipping nodes whose
// address is local (several agents on one machine reach each other's bridges directly).
func DesiredRoutes(self string, nodes map[string]NodeNet, local func(string) bool) []Route {
	var out []Route
	for name, n := range nodes {
		if name == self || n.IP == "" || local(n.IP) {
			continue
		}
		for _, c := range n.PodCIDRs {
			out = append(out, Route{CIDR: c, Gateway: n.IP})
		}
	}
	return out
}

// NodeNet is what routing needs to know of a node.
type NodeNet struct {
	IP       string
	PodCIDRs []string
}

// LocalAddress reports whether ip is assigned to an interface of this machine.
func LocalAddress(ip string) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.String() == ip {
			return true
		}
	}
	return false
}

// SyncRoutes makes the agent's tagged routes equal want.
func SyncRoutes(want []Route) error {
	out, err := exec.Command("ip", "-4", "route", "show", "proto", routeProto).Output()
	if err != nil {
		return fmt.Errorf("ip route show: %w", err)
	}
	have := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[1] == "via" {
			have[f[0]] = f[2]
		}
	}
	wantSet := map[string]string{}
	for _, r := range want {
		wantSet[r.CIDR] = r.Gateway
		if have[r.CIDR] == r.Gateway {
			continue
		}
		if out, err := exec.Command("ip", "route", "replace", r.CIDR, "via", r.Gateway, "proto", routeProto).CombinedOutput(); err != nil {
			return fmt.Errorf("ip route replace %s via %s: %v: %s", r.CIDR, r.Gateway, err, bytes.TrimSpace(out))
		}
		slog.Info("route to pod CIDR added", "cidr", r.CIDR, "via", r.Gateway)
	}
	for cidr := range have {
		if _, ok := wantSet[cidr]; !ok {
			_ = exec.Command("ip", "route", "del", cidr, "proto", routeProto).Run()
		}
	}
	return nil
}
