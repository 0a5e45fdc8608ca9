package proxy

import (
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// sysctls the proxy's rules rely on.
var sysctls = []struct{ path, value, why string }{
	// DNAT of packets from 127.0.0.1 (NodePorts and load-balancer IPs on loopback)
	// to pod addresses; the kernel drops such packets as martians otherwise.
	{"net/ipv4/conf/all/route_localnet", "1", "NodePorts on 127.0.0.1"},
	// Pods on one bridge answer each other at layer 2; only with this do those
	// replies pass conntrack and get their service address back.
	{"net/bridge/bridge-nf-call-iptables", "1", "service traffic between pods on one bridge"},
}

// ensureSysctls sets what it can and says what it could not: the proxy still
// serves the other paths without them.
func ensureSysctls(log *slog.Logger) {
	if _, err := os.Stat("/proc/sys/net/bridge"); os.IsNotExist(err) {
		if out, err := exec.Command("modprobe", "br_netfilter").CombinedOutput(); err != nil {
			log.Warn("could not load br_netfilter", "err", err, "output", strings.TrimSpace(string(out)))
		}
	}
	for _, s := range sysctls {
		p := filepath.Join("/proc/sys", s.path)
		if cur, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(cur)) == s.value {
			continue
		}
		if err := os.WriteFile(p, []byte(s.value), 0o644); err != nil {
			log.Warn("could not set sysctl; "+s.why+" will not work", "sysctl", s.path, "err", err)
		}
	}
}
