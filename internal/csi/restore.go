package csi

import (
	"context"
	"fmt"

	"github.com/container-storage-interface/spec/lib/go/csi"
	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// dataSource is the claim's dataSourceRef, or its dataSource.
func dataSource(pvc *corev1.PersistentVolumeClaim) *corev1.TypedObjectReference {
	if r := pvc.Spec.DataSourceRef; r != nil {
		return r
	}
	if r := pvc.Spec.DataSource; r != nil {
		return &corev1.TypedObjectReference{APIGroup: r.APIGroup, Kind: r.Kind, Name: r.Name}
	}
	return nil
}

// contentSource is what a new volume starts with: a VolumeSnapshot's snapshot
// (restore) or another claim's volume (clone), both of the same driver and in
// the claim's namespace; nil for an empty volume. An error names what the claim
// waits for, or why it cannot be made.
func (p *Provisioner) contentSource(ctx context.Context, d *Driver, pvc *corev1.PersistentVolumeClaim) (*csi.VolumeContentSource, error) {
	ref := dataSource(pvc)
	if ref == nil {
		return nil, nil
	}
	group := ""
	if ref.APIGroup != nil {
		group = *ref.APIGroup
	}
	if ref.Namespace != nil && *ref.Namespace != pvc.Namespace {
		return nil, fmt.Errorf("dataSourceRef in namespace %q: cross-namespace data sources are not supported", *ref.Namespace)
	}
	switch {
	case group == "" && ref.Kind == "PersistentVolumeClaim":
		src, err := p.claims.PersistentVolumeClaims(pvc.Namespace).Get(ref.Name)
		if err != nil || src.Spec.VolumeName == "" {
			return nil, fmt.Errorf("waiting for the source claim %q to be bound", ref.Name)
		}
		pv, err := p.volumes.Get(src.Spec.VolumeName)
		if err != nil || pv.Spec.CSI == nil || pv.Spec.CSI.Driver != d.Name {
			return nil, fmt.Errorf("the source claim %q is not a volume of CSI driver %q", ref.Name, d.Name)
		}
		return &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{
			Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: pv.Spec.CSI.VolumeHandle}}}, nil
	case group == snapv1.GroupName && ref.Kind == "VolumeSnapshot":
		if p.node.snapshots == nil {
			return nil, fmt.Errorf("this node cannot read VolumeSnapshots")
		}
		vs, err := p.node.snapshots.SnapshotV1().VolumeSnapshots(pvc.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("VolumeSnapshot %q: %v", ref.Name, err)
		}
		if vs.Status == nil || vs.Status.ReadyToUse == nil || !*vs.Status.ReadyToUse || vs.Status.BoundVolumeSnapshotContentName == nil {
			return nil, fmt.Errorf("waiting for VolumeSnapshot %q to be ready to use", ref.Name)
		}
		content, err := p.node.snapshots.SnapshotV1().VolumeSnapshotContents().Get(ctx, *vs.Status.BoundVolumeSnapshotContentName, metav1.GetOptions{})
		if err != nil || content.Status == nil || content.Status.SnapshotHandle == nil {
			return nil, fmt.Errorf("the content of VolumeSnapshot %q has no snapshot handle", ref.Name)
		}
		if content.Spec.Driver != d.Name {
			return nil, fmt.Errorf("VolumeSnapshot %q was taken by CSI driver %q, not %q", ref.Name, content.Spec.Driver, d.Name)
		}
		return &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
			Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: *content.Status.SnapshotHandle}}}, nil
	}
	return nil, fmt.Errorf("data source %s %q (group %q) is not supported: only VolumeSnapshots and PersistentVolumeClaims", ref.Kind, ref.Name, group)
}
