// Package imageview makes image volumes on a runtime whose CRI cannot mount an image
// (containerd before 2.1): a read-only view of the image's root filesystem, made by
// containerd's own snapshotter through its API on the CRI socket, mounted on the host
// so that the kubelet bind-mounts it into containers like any other volume.
//
// Each view is a snapshot in the namespace containerd's CRI plugin uses, keyed by
// node, pod and volume, labelled as a garbage-collection root: while a pod uses it,
// the image's layers stay even if the image is removed. The labels also say where the
// view is mounted, so that views of pods gone while the agent was down are found and
// removed without any state outside containerd.
package imageview

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	ctrdtypes "github.com/containerd/containerd/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"k8s.io/apimachinery/pkg/types"
	internalapi "k8s.io/cri-api/pkg/apis"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/volume"
)

// Namespace is the containerd namespace of the CRI plugin's images and snapshots.
const Namespace = "k8s.io"

// Labels on each view snapshot.
const (
	labelGCRoot = "containerd.io/gc.root"
	labelNode   = "skiff.io/image-volume.node"
	labelPod    = "skiff.io/image-volume.pod-uid"
	labelTarget = "skiff.io/image-volume.target"
)

// Views makes and removes one node's image-volume views.
type Views struct {
	snapshots   snapshotsapi.SnapshotsClient
	images      internalapi.ImageManagerService
	snapshotter string
	node        string
}

// New returns the views of node, made through the containerd API at conn with the
// snapshotter the CRI plugin unpacks images into (as its verbose status says); images
// answers the CRI ImageStatus calls that name the image's layers.
func New(ctx context.Context, conn grpc.ClientConnInterface, rs internalapi.RuntimeService, images internalapi.ImageManagerService, node string) *Views {
	sn := defaultSnapshotter
	if st, err := rs.Status(ctx, true); err == nil {
		sn = snapshotter(st.Info)
	}
	return &Views{snapshots: snapshotsapi.NewSnapshotsClient(conn), images: images, snapshotter: sn, node: node}
}

var _ volume.Images = (*Views)(nil)

func withNamespace(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "containerd-namespace", Namespace)
}

// keyPrefix starts the key of every view of this node.
func (v *Views) keyPrefix() string { return "skiff/image-volume/" + v.node + "/" }

func (v *Views) key(uid types.UID, name string) string {
	return v.keyPrefix() + string(uid) + "/" + name
}

// Mount makes a read-only view of image (a pulled image's reference or ID) at
// target, the volume name of pod uid. A view already mounted there is kept.
func (v *Views) Mount(ctx context.Context, uid types.UID, name, image, target string) error {
	if ok, err := volume.Mounted(target); err != nil || ok {
		return err
	}
	ctx = withNamespace(ctx)
	st, err := v.images.ImageStatus(ctx, &runtimeapi.ImageSpec{Image: image}, true)
	if err != nil {
		return fmt.Errorf("image status of %s: %w", image, err)
	}
	if st.GetImage() == nil {
		return fmt.Errorf("image %s is not on the node", image)
	}
	layers, err := diffIDs(st.Info)
	if err != nil {
		return err
	}
	parent, err := chainID(layers)
	if err != nil {
		return err
	}
	key := v.key(uid, name)
	mounts, err := v.view(ctx, key, parent, map[string]string{
		labelGCRoot: time.Now().UTC().Format(time.RFC3339), labelNode: v.node, labelPod: string(uid), labelTarget: target,
	})
	if err != nil {
		return fmt.Errorf("view of image %s (layers %s): %w", image, parent, err)
	}
	calls, err := plan(mounts)
	if err == nil {
		err = mountAt(target, calls)
	}
	if err != nil {
		_, rerr := v.snapshots.Remove(ctx, &snapshotsapi.RemoveSnapshotRequest{Snapshotter: v.snapshotter, Key: key})
		return errors.Join(err, rerr)
	}
	return nil
}

// view creates the view snapshot, or returns the mounts of the one a previous try
// (or the agent before a restart) created.
func (v *Views) view(ctx context.Context, key, parent string, labels map[string]string) ([]*ctrdtypes.Mount, error) {
	r, err := v.snapshots.View(ctx, &snapshotsapi.ViewSnapshotRequest{Snapshotter: v.snapshotter, Key: key, Parent: parent, Labels: labels})
	if status.Code(err) == codes.AlreadyExists {
		m, err := v.snapshots.Mounts(ctx, &snapshotsapi.MountsRequest{Snapshotter: v.snapshotter, Key: key})
		return m.GetMounts(), err
	}
	return r.GetMounts(), err
}

// Unmount removes every view of pod uid.
func (v *Views) Unmount(ctx context.Context, uid types.UID) error {
	return v.remove(ctx, func(p types.UID) bool { return p == uid })
}

// Sweep removes the views of pods for which keep is false: pods that left the node
// while the agent was not running.
func (v *Views) Sweep(ctx context.Context, keep func(types.UID) bool) error {
	return v.remove(ctx, func(p types.UID) bool { return !keep(p) })
}

func (v *Views) remove(ctx context.Context, match func(types.UID) bool) error {
	ctx = withNamespace(ctx)
	infos, err := v.list(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, info := range infos {
		if !match(types.UID(info.Labels[labelPod])) {
			continue
		}
		if t := info.Labels[labelTarget]; t != "" {
			if err := unmount(t); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		_, err := v.snapshots.Remove(ctx, &snapshotsapi.RemoveSnapshotRequest{Snapshotter: v.snapshotter, Key: info.Name})
		if err != nil && status.Code(err) != codes.NotFound {
			errs = append(errs, fmt.Errorf("removing image volume view %s: %w", info.Name, err))
		}
	}
	return errors.Join(errs...)
}

// list returns this node's views. The label filter spares reading every snapshot of
// a busy runtime; the key prefix is checked again in case a runtime ignores it.
func (v *Views) list(ctx context.Context) ([]*snapshotsapi.Info, error) {
	s, err := v.snapshots.List(ctx, &snapshotsapi.ListSnapshotsRequest{Snapshotter: v.snapshotter,
		Filters: []string{fmt.Sprintf(`labels."%s"==%q`, labelNode, v.node)}})
	if err != nil {
		return nil, err
	}
	prefix := v.keyPrefix()
	var out []*snapshotsapi.Info
	for {
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		for _, info := range r.Info {
			if strings.HasPrefix(info.Name, prefix) && info.Labels[labelNode] == v.node {
				out = append(out, info)
			}
		}
	}
}
