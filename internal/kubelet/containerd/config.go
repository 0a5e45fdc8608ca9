// Package containerd runs a private containerd for one node: its own root, state,
// socket and runc root under the agent's data dir, configured for this machine kind
// (cgroup v1 with cgroupfs, overlayfs, CNI plugins from Debian) and for pulling every
// image from the cluster's built-in registry.
package containerd

import (
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
)

// Options describe one node's containerd.
type Options struct {
	// Dir holds everything containerd writes: root, state, socket, config.
	Dir string
	// SandboxImage is the pause image every pod sandbox runs.
	SandboxImage string
	CNIBinDir    string
	CNIConfDir   string
	// RegistryEndpoint is the base URL of the cluster registry, e.g. https://10.0.0.1:6443.
	RegistryEndpoint string
	// RegistryCAFile verifies the registry's TLS certificate (the cluster CA).
	RegistryCAFile string
	// Mirrors are the registry names pulled from RegistryEndpoint; "*" stands for any.
	Mirrors []string
}

// Socket is the CRI socket path of the containerd running in o.Dir.
func (o Options) Socket() string { return filepath.Join(o.Dir, "containerd.sock") }

// RuncRoot is where runc keeps container state for this node.
func (o Options) RuncRoot() string { return filepath.Join(o.Dir, "runc") }

func (o Options) configPath() string { return filepath.Join(o.Dir, "config.toml") }
func (o Options) pidPath() string    { return filepath.Join(o.Dir, "containerd.pid") }
func (o Options) logPath() string    { return filepath.Join(o.Dir, "containerd.log") }

// Config renders containerd 1.6's config (version 2). The legacy registry
// mirrors/configs tables are used rather than config_path, because they are what 1.6
// supports for a "*" default mirror and a per-endpoint ca_file.
func (o Options) Config() string {
	var b strings.Builder
	w := func(format string, a ...any) { fmt.Fprintf(&b, format+"\n", a...) }
	w("version = 2")
	w("root = %q", filepath.Join(o.Dir, "root"))
	w("state = %q", filepath.Join(o.Dir, "state"))
	// Plugins the agent never uses only cost memory and start-up time.
	w("disabled_plugins = [%q, %q, %q]", "io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.zfs")
	w("\n[grpc]\n  address = %q", o.Socket())
	w("\n[ttrpc]\n  address = %q", o.Socket()+".ttrpc")
	w("\n[debug]\n  address = \"\"\n  level = \"warn\"")
	w("\n[metrics]\n  address = \"\"")
	cri := `plugins."io.containerd.grpc.v1.cri"`
	w("\n[%s]", cri)
	w("  sandbox_image = %q", o.SandboxImage)
	// root here lacks CAP_SYS_RESOURCE, and runc fails to lower oom_score_adj below
	// the agent's own unless told to clamp it.
	w("  restrict_oom_score_adj = true")
	w("  enable_selinux = false")
	w("  disable_apparmor = true")
	// Network namespaces live under this node's state dir rather than the shared
	// /var/run/netns, where another tool's `ip netns` bind mount can hide them and
	// make them impossible to remove.
	w("  netns_mounts_under_state_dir = true")
	w("\n[%s.containerd]", cri)
	w("  snapshotter = \"overlayfs\"")
	w("  default_runtime_name = \"runc\"")
	w("\n[%s.containerd.runtimes.runc]", cri)
	w("  runtime_type = \"io.containerd.runc.v2\"")
	w("\n[%s.containerd.runtimes.runc.options]", cri)
	w("  SystemdCgroup = false")
	w("  Root = %q", o.RuncRoot())
	w("\n[%s.cni]", cri)
	w("  bin_dir = %q", o.CNIBinDir)
	w("  conf_dir = %q", o.CNIConfDir)
	w("  max_conf_num = 1")
	o.writeRegistry(w, cri)
	return b.String()
}

func (o Options) writeRegistry(w func(string, ...any), cri string) {
	if o.RegistryEndpoint == "" {
		return
	}
	mirrors := slices.Clone(o.Mirrors)
	slices.Sort(mirrors)
	for _, m := range slices.Compact(mirrors) {
		w("\n[%s.registry.mirrors.%q]", cri, m)
		w("  endpoint = [%q]", o.RegistryEndpoint)
	}
	if o.RegistryCAFile == "" {
		return
	}
	host := o.RegistryEndpoint
	if u, err := url.Parse(o.RegistryEndpoint); err == nil && u.Host != "" {
		host = u.Host
	}
	w("\n[%s.registry.configs.%q.tls]", cri, host)
	w("  ca_file = %q", o.RegistryCAFile)
}
