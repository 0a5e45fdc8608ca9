package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"skiff/internal/kubelet"
	"skiff/internal/kubelet/containerd"
	"skiff/internal/kubelet/cri"
	"skiff/internal/proxy"
)

// Reset removes a node's pods and everything the agent set up on the machine: the
// containers and sandboxes (through a containerd started for the purpose if the
// agent runs its own), leftover mounts under the data dir, the bridge, the
// masquerade and service proxy tables and the cgroups. The data dir itself stays. The agent must not be
// running.
func Reset(ctx context.Context, cfg Config) error {
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
		proxy.DeleteTable(ctx, proxyTable(cfg.NodeName)),
		kubelet.RemoveVolumes(filepath.Join(cfg.DataDir, "kubelet")))
	return errors.Join(errs...)
}
