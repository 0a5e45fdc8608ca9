package agent

import (
	"errors"
	"fmt"
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
