package csi

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/container-storage-interface/spec/lib/go/csi"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// publication is one volume published for a pod, remembered to unpublish it.
type publication struct {
	volume  string // the pod's volume name
	driver  string
	handle  string
	target  string
	staging string // "" when the volume was not staged
}

// Volume context keys the kubelet adds for drivers with podInfoOnMount.
const (
	ctxPodName      = "csi.storage.k8s.io/pod.name"
	ctxPodNamespace = "csi.storage.k8s.io/pod.namespace"
	ctxPodUID       = "csi.storage.k8s.io/pod.uid"
	ctxSA           = "csi.storage.k8s.io/serviceAccount.name"
	ctxEphemeral    = "csi.storage.k8s.io/ephemeral"
)

// StagingPath is where a volume is staged on the node, shared by all its pods.
func StagingPath(root, driver, handle string) string {
	return filepath.Join(root, "plugins", "kubernetes.io", "csi", driver,
		fmt.Sprintf("%x", sha256.Sum256([]byte(handle))), "globalmount")
}

// InlineHandle is the volume ID of a pod's CSI inline volume, unique per pod and volume.
func InlineHandle(uid types.UID, volume string) string {
	return fmt.Sprintf("csi-%x", sha256.Sum256([]byte(string(uid)+volume)))
}

// PublishVolume stages (when the driver stages) and publishes a CSI persistent
// volume at target for pod. A volume already published for the pod is left alone:
// the pod worker calls this on every sync.
func (n *Node) PublishVolume(ctx context.Context, pod *corev1.Pod, volume string, pv *corev1.PersistentVolume, readOnly bool, target string) error {
	if n.isPublished(pod.UID, volume) {
		return nil
	}
	src := pv.Spec.CSI
	d, err := n.Driver(src.Driver)
	if err != nil {
		return err
	}
	info, err := n.driverObject(ctx, src.Driver)
	if err != nil {
		return err
	}
	var publishCtx map[string]string
	if attachRequired(info) {
		if publishCtx, err = n.attachment(ctx, src.Driver, src.VolumeHandle); err != nil {
			return err
		}
	}
	capability := mountCapability(src.FSType, accessMode(pv.Spec.AccessModes))
	p := publication{volume: volume, driver: d.Name, handle: src.VolumeHandle, target: target}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if d.stage {
		p.staging = StagingPath(n.root, d.Name, src.VolumeHandle)
		if err := os.MkdirAll(p.staging, 0o750); err != nil {
			return err
		}
		if _, err := d.node.NodeStageVolume(cctx, &csi.NodeStageVolumeRequest{
			VolumeId: src.VolumeHandle, PublishContext: publishCtx, StagingTargetPath: p.staging,
			VolumeCapability: capability, VolumeContext: src.VolumeAttributes,
		}); err != nil {
			return fmt.Errorf("NodeStageVolume of %s: %w", pv.Name, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return err
	}
	_, err = d.node.NodePublishVolume(cctx, &csi.NodePublishVolumeRequest{
		VolumeId: src.VolumeHandle, PublishContext: publishCtx, StagingTargetPath: p.staging,
		TargetPath: target, VolumeCapability: capability, Readonly: readOnly || src.ReadOnly,
		VolumeContext: withPodInfo(src.VolumeAttributes, info, pod, false),
	})
	if err != nil {
		return fmt.Errorf("NodePublishVolume of %s: %w", pv.Name, err)
	}
	n.remember(pod.UID, p)
	if n.onPublish != nil {
		n.onPublish(pv)
	}
	return nil
}

// PublishInline publishes a pod's CSI inline volume (volumes[].csi), which lives and
// dies with the pod; the driver must declare the Ephemeral lifecycle mode.
func (n *Node) PublishInline(ctx context.Context, pod *corev1.Pod, volume string, src *corev1.CSIVolumeSource, target string) error {
	if n.isPublished(pod.UID, volume) {
		return nil
	}
	d, err := n.Driver(src.Driver)
	if err != nil {
		return err
	}
	info, err := n.driverObject(ctx, src.Driver)
	if err != nil {
		return err
	}
	if info == nil || !slices.Contains(info.Spec.VolumeLifecycleModes, storagev1.VolumeLifecycleEphemeral) {
		return fmt.Errorf("CSI driver %q does not allow inline volumes (its CSIDriver does not list the Ephemeral lifecycle mode)", src.Driver)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return err
	}
	handle := InlineHandle(pod.UID, volume)
	fsType := ""
	if src.FSType != nil {
		fsType = *src.FSType
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	_, err = d.node.NodePublishVolume(cctx, &csi.NodePublishVolumeRequest{
		VolumeId: handle, TargetPath: target, Readonly: src.ReadOnly != nil && *src.ReadOnly,
		VolumeCapability: mountCapability(fsType, csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER),
		VolumeContext:    withPodInfo(src.VolumeAttributes, info, pod, true),
	})
	if err != nil {
		return fmt.Errorf("NodePublishVolume of inline volume %q: %w", volume, err)
	}
	n.remember(pod.UID, publication{volume: volume, driver: d.Name, handle: handle, target: target})
	return nil
}

// Unpublish unpublishes every CSI volume of a pod, and unstages those no other pod
// on the node still uses. What fails stays remembered for the next try.
func (n *Node) Unpublish(ctx context.Context, uid types.UID) error {
	n.mu.Lock()
	pubs := n.published[string(uid)]
	n.mu.Unlock()
	var failed []publication
	var errs []error
	for _, p := range pubs {
		if err := n.unpublish(ctx, uid, p); err != nil {
			failed = append(failed, p)
			errs = append(errs, err)
			continue
		}
		drop(p)
	}
	n.mu.Lock()
	if len(failed) == 0 {
		delete(n.published, string(uid))
	} else {
		n.published[string(uid)] = failed
	}
	n.mu.Unlock()
	return errors.Join(errs...)
}

func (n *Node) unpublish(ctx context.Context, uid types.UID, p publication) error {
	d, err := n.Driver(p.driver)
	if err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := d.node.NodeUnpublishVolume(cctx, &csi.NodeUnpublishVolumeRequest{VolumeId: p.handle, TargetPath: p.target}); err != nil {
		return fmt.Errorf("NodeUnpublishVolume of %s: %w", p.handle, err)
	}
	if p.staging == "" || n.stagedElsewhere(uid, p) {
		return nil
	}
	if _, err := d.node.NodeUnstageVolume(cctx, &csi.NodeUnstageVolumeRequest{VolumeId: p.handle, StagingTargetPath: p.staging}); err != nil {
		return fmt.Errorf("NodeUnstageVolume of %s: %w", p.handle, err)
	}
	return nil
}

// stagedElsewhere says whether another pod still uses the staged volume of p.
func (n *Node) stagedElsewhere(uid types.UID, p publication) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for other, pubs := range n.published {
		if other == string(uid) {
			continue
		}
		for _, q := range pubs {
			if q.driver == p.driver && q.handle == p.handle {
				return true
			}
		}
	}
	return false
}

// publicationOf finds a publication of the driver's volume on this node.
func (n *Node) publicationOf(driver, handle string) (publication, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, pubs := range n.published {
		for _, p := range pubs {
			if p.driver == driver && p.handle == handle {
				return p, true
			}
		}
	}
	return publication{}, false
}

func (n *Node) isPublished(uid types.UID, volume string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.ContainsFunc(n.published[string(uid)], func(p publication) bool { return p.volume == volume })
}

func (n *Node) remember(uid types.UID, p publication) {
	save(p)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.published[string(uid)] = append(n.published[string(uid)], p)
}

// driverObject reads the driver's CSIDriver; nil when there is none.
func (n *Node) driverObject(ctx context.Context, name string) (*storagev1.CSIDriver, error) {
	d, err := n.client.StorageV1().CSIDrivers().Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return d, err
}

// attachRequired is true unless the CSIDriver says otherwise, as in Kubernetes.
func attachRequired(d *storagev1.CSIDriver) bool {
	return d == nil || d.Spec.AttachRequired == nil || *d.Spec.AttachRequired
}

func withPodInfo(attrs map[string]string, d *storagev1.CSIDriver, pod *corev1.Pod, ephemeral bool) map[string]string {
	out := map[string]string{}
	for k, v := range attrs {
		out[k] = v
	}
	if ephemeral {
		out[ctxEphemeral] = "true"
	}
	if d != nil && d.Spec.PodInfoOnMount != nil && *d.Spec.PodInfoOnMount {
		out[ctxPodName], out[ctxPodNamespace], out[ctxPodUID] = pod.Name, pod.Namespace, string(pod.UID)
		out[ctxSA] = pod.Spec.ServiceAccountName
		if !ephemeral {
			out[ctxEphemeral] = "false"
		}
	}
	return out
}

func accessMode(modes []corev1.PersistentVolumeAccessMode) csi.VolumeCapability_AccessMode_Mode {
	switch {
	case slices.Contains(modes, corev1.ReadWriteOncePod):
		return csi.VolumeCapability_AccessMode_SINGLE_NODE_SINGLE_WRITER
	case slices.Contains(modes, corev1.ReadWriteMany):
		return csi.VolumeCapability_AccessMode_MULTI_NODE_MULTI_WRITER
	case slices.Contains(modes, corev1.ReadOnlyMany) && !slices.Contains(modes, corev1.ReadWriteOnce):
		return csi.VolumeCapability_AccessMode_MULTI_NODE_READER_ONLY
	}
	return csi.VolumeCapability_AccessMode_SINGLE_NODE_WRITER
}
