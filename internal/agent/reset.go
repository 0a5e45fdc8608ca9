package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"time"

	"skiff/internal/kubelet"
	"skiff/internal/kubelet/containerd"
	"skiff/internal/kubelet/cri"
	"skiff/internal/nfttable"
)

// Reset removes a node's pods and everything the agent set up on the machine: the
// containers and sandboxes (through a containerd started for the purpose if the
// agent runs its own), leftover mounts under the data dir, the bridge, the
// masquerade, service proxy and network-policy tables and the cgroups. The data dir
// itself stays. The agent must not be running.
//
// DataDir may be a server's data dir: its own node's state is under agent/ there.
// Without a node name, the one the agent recorded in its data dir is used.
func Reset(ctx context.Context, cfg Config) error {
	cfg = resetTarget(cfg)
	if err := cfg.defaults(); err != nil {
		return err
	}
	var errs []error
	endpoint := cfg.ContainerRuntimeEndpoint
	if endpoint == "" {
		opts := containerdOptions(cfg, filepath.Join(pkiDir(cfg.DataDir), "ca.crt"))
		if _, err := os.Stat(opts.Dir); err == nil {
			proc, err := containerd.Start(ctx, opts)
			if err != nil {
				errs = append(errs, err)
			} else {
				defer proc.Stop()
				endpoint = opts.Socket()
			}
		}
	}
	if endpoint != "" {
		if rt, _, err := cri.Dial(ctx, endpoint, 30*time.Second); err == nil {
			errs = append(errs, kubelet.RemoveAllPods(ctx, rt, cfg.NodeName))
			rt.Close()
		} else {
			errs = append(errs, err)
		}
	}
	errs = append(errs, kubelet.RemoveHostState(ctx, cfg.NodeName, CgroupPrefix(cfg.NodeName)),
		nfttable.DeleteTable(proxyTable(cfg.NodeName)), nfttable.DeleteTable(policyTable(cfg.NodeName)),
		kubelet.RemoveVolumes(filepath.Join(cfg.DataDir, "kubelet")))
	return errors.Join(errs...)
}

// nodeNameFile, in an agent's data dir, holds the name the node registered with.
const nodeNameFile = "node-name"

// resetTarget resolves the data dir and, when not given, the node name to reset.
func resetTarget(cfg Config) Config {
	cfg.DataDir = resetDir(cfg.DataDir)
	if cfg.NodeName == "" {
		if b, err := os.ReadFile(filepath.Join(cfg.DataDir, nodeNameFile)); err == nil {
			cfg.NodeName = strings.TrimSpace(string(b))
		}
	}
	return cfg
}

// resetDir is the agent data dir that dir stands for: a server's data dir (with its
// etcd and admin kubeconfig) keeps its node's agent state in agent/.
func resetDir(dir string) string {
	agentDir := filepath.Join(dir, "agent")
	if fi, err := os.Stat(agentDir); err != nil || !fi.IsDir() {
		return dir
	}
	for _, marker := range []string{"etcd", "admin.kubeconfig"} {
		if _, err := os.Stat(filepath.Join(dir, marker)); err == nil {
			return agentDir
		}
	}
	return dir
}
