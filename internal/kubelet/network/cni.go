// Package network gives a node its pod network: the CNI configuration containerd uses
// for every sandbox (a bridge per node, host-local IPAM over the node's pod CIDR,
// portmap for hostPort), the host settings bridged pod traffic needs, masquerade for
// traffic leaving the cluster, and routes to the other nodes' pod CIDRs.
package network

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
)

// ConfFile is the name of the CNI config the agent writes in its conf dir.
const ConfFile = "10-skiff.conflist"

// nodeHash is a short stable identifier of a node, for names limited in length
// (interface names have at most 15 characters).
func nodeHash(node string) string {
	h := sha256.Sum256([]byte(node))
	return hex.EncodeToString(h[:4])
}

// BridgeName is the node's bridge: several agents on one machine each get their own.
func BridgeName(node string) string { return "skf-" + nodeHash(node) }

// NetworkName is the CNI network name of the node.
func NetworkName(node string) string { return "skiff-" + nodeHash(node) }

// CNIOptions describe a node's CNI network.
type CNIOptions struct {
	Node      string
	PodCIDRs  []string
	IPAMDir   string // host-local's allocation records, per node
	MTU       int    // 0: the bridge plugin's default
	HairpinOn bool
}

// CNIConfig renders the conflist: bridge (gateway, no masquerade: the agent does its
// own, scoped to the cluster CIDR), host-local IPAM with one range per pod CIDR, and
// portmap for hostPort. containerd adds the loopback interface itself.
func CNIConfig(o CNIOptions) ([]byte, error) {
	if len(o.PodCIDRs) == 0 {
		return nil, errors.New("node has no pod CIDR yet")
	}
	var ranges [][]map[string]string
	var routes []map[string]string
	for _, c := range o.PodCIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("pod CIDR %q: %w", c, err)
		}
		ranges = append(ranges, []map[string]string{{"subnet": p.Masked().String()}})
		dst := "0.0.0.0/0"
		if p.Addr().Is6() {
			dst = "::/0"
		}
		routes = append(routes, map[string]string{"dst": dst})
	}
	bridge := map[string]any{
		"type": "bridge", "bridge": BridgeName(o.Node), "isGateway": true, "ipMasq": false,
		"hairpinMode": o.HairpinOn,
		"ipam":        map[string]any{"type": "host-local", "ranges": ranges, "routes": routes, "dataDir": o.IPAMDir},
	}
	if o.MTU > 0 {
		bridge["mtu"] = o.MTU
	}
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       NetworkName(o.Node),
		"plugins": []any{
			bridge,
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// WriteCNIConfig writes the conflist into dir unless one is there already: the
// config is written once and never changed under running pods, whose addresses came
// from it. It reports whether it wrote.
func WriteCNIConfig(dir string, o CNIOptions) (bool, error) {
	data, err := CNIConfig(o)
	if err != nil {
		return false, err
	}
	path := filepath.Join(dir, ConfFile)
	if old, err := os.ReadFile(path); err == nil {
		if !bytes.Equal(old, data) {
			slog.Warn("keeping the existing CNI config, which differs from the node's pod CIDR now", "path", path)
		}
		return false, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return false, err
	}
	return true, os.Rename(tmp, path)
}
