package csi

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	snapinformers "github.com/kubernetes-csi/external-snapshotter/client/v8/informers/externalversions"
	"golang.org/x/sys/unix"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/controllers/controller"
)

// Start runs the agent's CSI work until ctx ends: the kubelet directory made a shared
// mount (so mounts a driver container makes below it reach the host), plugin
// registration, and the provisioner, attacher, resizer, modifier and snapshotter for the
// drivers found.
func (n *Node) Start(ctx context.Context) {
	// The shared mount, and the volumes staged and published below it, outlive
	// the agent, as a kubelet's mounts do: a restarted agent finds them where its
	// records say (records.go). `skiff agent reset` unmounts them all.
	if err := makeShared(n.root); err != nil {
		slog.Warn("csi: the kubelet directory is not a shared mount; drivers in containers cannot publish volumes", "dir", n.root, "err", err)
	}
	c := controller.NewContext(n.client, 10*time.Minute)
	p, a := NewProvisioner(c, n), NewAttacher(c, n)
	r, m := NewResizer(c, p), NewModifier(c, p)
	n.onPublish = r.published
	if n.snapshots != nil {
		f := snapinformers.NewSharedInformerFactory(n.snapshots, 10*time.Minute)
		snap := NewSnapshotter(c, f, n.snapshots, p)
		f.Start(ctx.Done())
		go snap.Run(ctx)
	}
	c.Informers.Start(ctx.Done())
	go n.WatchRegistrations(ctx)
	go a.Run(ctx)
	go r.Run(ctx)
	go m.Run(ctx)
	p.Run(ctx)
}

// makeShared bind-mounts dir onto itself (unless it is a mount point already) and
// marks it rshared, as the kubelet does with its root directory: a driver's
// Bidirectional hostPath mounts below it then propagate to the host.
func makeShared(dir string) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	dir = filepath.Clean(dir)
	if !isMountPoint(dir) {
		if err := unix.Mount(dir, dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind %s: %w", dir, err)
		}
	}
	if err := unix.Mount("", dir, "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make %s rshared: %w", dir, err)
	}
	return nil
}

func isMountPoint(dir string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == dir {
			return true
		}
	}
	return false
}

// labelNode puts a driver's topology segments on the node as labels, so that the
// node affinity of the driver's volumes matches it (the kubelet does the same).
func (n *Node) labelNode(ctx context.Context, segments map[string]string) {
	if len(segments) == 0 {
		return
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": segments}})
	if _, err := n.client.CoreV1().Nodes().Patch(ctx, n.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		slog.Warn("csi: labelling node with topology", "node", n.name, "err", err)
	}
}
