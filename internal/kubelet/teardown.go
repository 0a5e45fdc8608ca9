package kubelet

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/cri"
	"skiff/internal/kubelet/imageview"
	"skiff/internal/kubelet/network"
	"skiff/internal/kubelet/volume"
)

// RemoveAllPods stops and removes every sandbox and container the node's kubelet
// created in the runtime (a node being reset or a test cleaning up).
func RemoveAllPods(ctx context.Context, rt *cri.Client, node string) error {
	sel := map[string]string{cri.LabelNode: node}
	var errs []error
	cs, err := rt.Containers(ctx, sel)
	if err != nil {
		return err
	}
	for _, c := range cs {
		if c.State == runtimeapi.ContainerState_CONTAINER_RUNNING {
			_, _ = rt.Runtime.StopContainer(ctx, &runtimeapi.StopContainerRequest{ContainerId: c.Id, Timeout: 0})
		}
		if _, err := rt.Runtime.RemoveContainer(ctx, &runtimeapi.RemoveContainerRequest{ContainerId: c.Id}); err != nil {
			errs = append(errs, err)
		}
	}
	sbs, err := rt.Sandboxes(ctx, sel)
	if err != nil {
		return err
	}
	for _, sb := range sbs {
		_, _ = rt.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id})
		if _, err := rt.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, err)
		}
	}
	// Image volumes' views are snapshots the runtime keeps until they are removed.
	rs, is := rt.Services()
	views := imageview.New(ctx, rt.Conn(), rs, is, node)
	errs = append(errs, views.Sweep(ctx, func(types.UID) bool { return false }))
	return errors.Join(errs...)
}

// RemoveHostState deletes what the node added to the machine outside the runtime:
// its bridge, its masquerade table and its cgroups.
func RemoveHostState(ctx context.Context, node, cgroupPrefix string) error {
	return errors.Join(
		network.DeleteBridge(node),
		network.DeleteMasquerade(ctx, node),
		newCgroupManager(cgroupPrefix).removeAll(),
	)
}

// RemoveVolumes unmounts and deletes every pod's volume directories under the
// kubelet's root directory (memory-backed emptyDirs are tmpfs mounts), then
// unmounts what is left mounted there (CSI staging) and the root directory's own
// shared mount, which outlive the agent.
func RemoveVolumes(rootDir string) error {
	return errors.Join(volume.RemoveAll(rootDir), volume.UnmountTree(rootDir))
}
