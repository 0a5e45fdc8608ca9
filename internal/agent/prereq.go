package agent

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CNIBinDir is where Debian's containernetworking-plugins installs the plugins.
const CNIBinDir = "/usr/lib/cni"

// CheckPrerequisites reports what the machine lacks to run pods, naming the Debian
// package to install for each.
func CheckPrerequisites(cfg Config) error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "the agent must run as root (it manages containers, cgroups and network)")
	}
	need := func(bin, pkg string) {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, fmt.Sprintf("%s not found: apt-get install %s", bin, pkg))
		}
	}
	if cfg.ContainerRuntimeEndpoint == "" {
		need("containerd", "containerd")
		need("runc", "runc")
		for _, p := range []string{"bridge", "host-local", "portmap", "loopback"} {
			if _, err := os.Stat(filepath.Join(CNIBinDir, p)); err != nil {
				missing = append(missing, fmt.Sprintf("CNI plugin %s/%s not found: apt-get install containernetworking-plugins", CNIBinDir, p))
			}
		}
	}
	need("nft", "nftables")
	need("ip", "iproute2")
	if len(missing) > 0 {
		return errors.New("cannot run pods on this machine:\n  " + strings.Join(missing, "\n  "))
	}
	return nil
}

// defaultRouteIP returns the first IPv4 address of the interface the default route
// leaves through.
func defaultRouteIP() (string, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return "", err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		if len(fields) < 2 || fields[1] != "00000000" {
			continue
		}
		ifc, err := net.InterfaceByName(fields[0])
		if err != nil {
			continue
		}
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil {
				return n.IP.String(), nil
			}
		}
	}
	return "", errors.New("no default route with an IPv4 address")
}
