package csi

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	snapv1 "github.com/kubernetes-csi/external-snapshotter/client/v8/apis/volumesnapshot/v1"
	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	snapinformers "github.com/kubernetes-csi/external-snapshotter/client/v8/informers/externalversions"
	snaplisters "github.com/kubernetes-csi/external-snapshotter/client/v8/listers/volumesnapshot/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
)

// Finalizers and annotations of snapshot.storage.k8s.io, as upstream names them.
const (
	snapshotFinalizer   = "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection"
	contentFinalizer    = "snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection"
	defaultSnapshotAnn  = "snapshot.storage.kubernetes.io/is-default-class"
	snapshotterNodeAnn  = "snapshot.skiff.dev/node" // the node whose driver took the snapshot
	snapshotContentKind = "VolumeSnapshot"
)

// Snapshotter takes the snapshots of claims whose volumes this node's drivers
// reach, as Kubernetes' snapshot-controller and csi-snapshotter sidecar do together:
// a VolumeSnapshot of a claim gets a VolumeSnapshotContent (snapcontent-<uid>),
// CreateSnapshot fills the content's status and the snapshot's (readyToUse,
// restoreSize). Deleting the snapshot deletes the content and calls DeleteSnapshot
// when its deletionPolicy is Delete. Pre-provisioned contents are not handled.
type Snapshotter struct {
	p         *Provisioner
	client    snapclient.Interface
	snapshots snaplisters.VolumeSnapshotLister
	contents  snaplisters.VolumeSnapshotContentLister
	classes   snaplisters.VolumeSnapshotClassLister
	rec       record.EventRecorder
	q         *controller.Controller
}

// NewSnapshotter registers the snapshotter on f (snapshot kinds) and the
// provisioner's informers.
func NewSnapshotter(c *controller.Context, f snapinformers.SharedInformerFactory, client snapclient.Interface, p *Provisioner) *Snapshotter {
	si := f.Snapshot().V1()
	s := &Snapshotter{p: p, client: client, snapshots: si.VolumeSnapshots().Lister(), contents: si.VolumeSnapshotContents().Lister(),
		classes: si.VolumeSnapshotClasses().Lister(), rec: snapshotRecorder(c.Client, "csi-snapshotter/"+p.node.name)}
	s.q = controller.New("csi-snapshot", s.sync, 1)
	s.q.Watch(si.VolumeSnapshots().Informer(), s.q.Handler())
	s.q.Watch(si.VolumeSnapshotContents().Informer(), controller.Each(func(obj any) {
		if vsc, ok := controller.Unwrap[*snapv1.VolumeSnapshotContent](obj); ok {
			s.q.Enqueue(vsc.Spec.VolumeSnapshotRef.Namespace + "/" + vsc.Spec.VolumeSnapshotRef.Name)
		}
	}))
	s.q.Watch(si.VolumeSnapshotClasses().Informer(), nil)
	s.q.Watch(c.Informers.Core().V1().PersistentVolumeClaims().Informer(), nil)
	return s
}

// Run takes and deletes snapshots until ctx ends. Snapshots are looked at again
// every 10 s, as claims are: a driver that registers later changes no object.
func (s *Snapshotter) Run(ctx context.Context) {
	go func() {
		for ctx.Err() == nil {
			time.Sleep(10 * time.Second)
			if vss, err := s.snapshots.List(labels.Everything()); err == nil {
				for _, vs := range vss {
					if vs.Status == nil || vs.Status.ReadyToUse == nil || !*vs.Status.ReadyToUse || vs.DeletionTimestamp != nil {
						s.q.Enqueue(vs)
					}
				}
			}
		}
	}()
	s.q.Run(ctx)
}

// snapshotRecorder records events about snapshot objects, whose kinds the
// controllers' shared scheme does not know.
func snapshotRecorder(client kubernetes.Interface, component string) record.EventRecorder {
	scheme := runtime.NewScheme()
	_ = snapv1.AddToScheme(scheme)
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return b.NewRecorder(scheme, corev1.EventSource{Component: component})
}

// ContentName is the VolumeSnapshotContent made for a snapshot.
func ContentName(vs *snapv1.VolumeSnapshot) string { return "snapcontent-" + string(vs.UID) }

func (s *Snapshotter) sync(ctx context.Context, key string) error {
	vs, found, err := controller.Get(key, s.snapshots.VolumeSnapshots)
	if !found || err != nil {
		return err
	}
	if vs.DeletionTimestamp != nil {
		return s.remove(ctx, vs)
	}
	if vs.Spec.Source.PersistentVolumeClaimName == nil || (vs.Status != nil && vs.Status.ReadyToUse != nil && *vs.Status.ReadyToUse) {
		return nil
	}
	pvc, err := s.p.claims.PersistentVolumeClaims(vs.Namespace).Get(*vs.Spec.Source.PersistentVolumeClaimName)
	if err != nil || pvc.Spec.VolumeName == "" {
		return nil // the claim is not there or not bound yet: its binding wakes us
	}
	pv, err := s.p.volumes.Get(pvc.Spec.VolumeName)
	if err != nil || pv.Spec.CSI == nil {
		return nil
	}
	d, err := s.p.node.Driver(pv.Spec.CSI.Driver)
	if err != nil || !d.provision || !s.p.reaches(d, pv) {
		return nil
	}
	if !d.snapshot {
		return s.fail(ctx, vs, fmt.Sprintf("CSI driver %q cannot take snapshots", d.Name))
	}
	class, err := s.class(vs, d.Name)
	if err != nil {
		return s.fail(ctx, vs, err.Error())
	}
	if !slices.Contains(vs.Finalizers, snapshotFinalizer) {
		vs = vs.DeepCopy()
		vs.Finalizers = append(vs.Finalizers, snapshotFinalizer)
		if vs, err = s.client.SnapshotV1().VolumeSnapshots(vs.Namespace).Update(ctx, vs, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	content, err := s.content(ctx, vs, pv, class)
	if err != nil {
		return err
	}
	if content.Status == nil || content.Status.ReadyToUse == nil || !*content.Status.ReadyToUse {
		if content, err = s.take(ctx, d, vs, content, class); err != nil {
			return err
		}
	}
	return s.report(ctx, vs, content)
}

// class is the snapshot's VolumeSnapshotClass, or the driver's default one.
func (s *Snapshotter) class(vs *snapv1.VolumeSnapshot, driver string) (*snapv1.VolumeSnapshotClass, error) {
	if name := vs.Spec.VolumeSnapshotClassName; name != nil && *name != "" {
		c, err := s.classes.Get(*name)
		if err != nil {
			return nil, fmt.Errorf("VolumeSnapshotClass %q: %v", *name, err)
		}
		if c.Driver != driver {
			return nil, fmt.Errorf("VolumeSnapshotClass %q is for driver %q, the claim's volume is of %q", *name, c.Driver, driver)
		}
		return c, nil
	}
	all, _ := s.classes.List(labels.Everything())
	for _, c := range all {
		if c.Driver == driver && c.Annotations[defaultSnapshotAnn] == "true" {
			return c, nil
		}
	}
	return nil, fmt.Errorf("no volumeSnapshotClassName given and no default VolumeSnapshotClass for driver %q", driver)
}

// content finds or makes the snapshot's VolumeSnapshotContent.
func (s *Snapshotter) content(ctx context.Context, vs *snapv1.VolumeSnapshot, pv *corev1.PersistentVolume, class *snapv1.VolumeSnapshotClass) (*snapv1.VolumeSnapshotContent, error) {
	if c, err := s.contents.Get(ContentName(vs)); err == nil {
		return c, nil
	}
	c := &snapv1.VolumeSnapshotContent{
		ObjectMeta: metav1.ObjectMeta{Name: ContentName(vs), Finalizers: []string{contentFinalizer},
			Annotations: map[string]string{snapshotterNodeAnn: s.p.node.name}},
		Spec: snapv1.VolumeSnapshotContentSpec{
			VolumeSnapshotRef: corev1.ObjectReference{Kind: snapshotContentKind, APIVersion: snapv1.SchemeGroupVersion.String(),
				Namespace: vs.Namespace, Name: vs.Name, UID: vs.UID},
			DeletionPolicy: class.DeletionPolicy, Driver: pv.Spec.CSI.Driver, VolumeSnapshotClassName: &class.Name,
			Source:           snapv1.VolumeSnapshotContentSource{VolumeHandle: &pv.Spec.CSI.VolumeHandle},
			SourceVolumeMode: pv.Spec.VolumeMode,
		},
	}
	created, err := s.client.SnapshotV1().VolumeSnapshotContents().Create(ctx, c, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return s.client.SnapshotV1().VolumeSnapshotContents().Get(ctx, c.Name, metav1.GetOptions{})
	}
	return created, err
}

// take calls CreateSnapshot (idempotent by name) and records the result on the content.
func (s *Snapshotter) take(ctx context.Context, d *Driver, vs *snapv1.VolumeSnapshot, content *snapv1.VolumeSnapshotContent, class *snapv1.VolumeSnapshotClass) (*snapv1.VolumeSnapshotContent, error) {
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := d.controller.CreateSnapshot(cctx, &csi.CreateSnapshotRequest{
		Name: "snapshot-" + string(vs.UID), SourceVolumeId: *content.Spec.Source.VolumeHandle, Parameters: class.Parameters})
	if err != nil {
		msg := fmt.Sprintf("CreateSnapshot: %v", err)
		_ = s.fail(ctx, vs, msg)
		return nil, err
	}
	snap := resp.GetSnapshot()
	content = content.DeepCopy()
	content.Status = &snapv1.VolumeSnapshotContentStatus{
		SnapshotHandle: ptr.To(snap.GetSnapshotId()), CreationTime: ptr.To(snap.GetCreationTime().AsTime().UnixNano()),
		RestoreSize: ptr.To(snap.GetSizeBytes()), ReadyToUse: ptr.To(snap.GetReadyToUse()),
	}
	s.rec.Eventf(vs, corev1.EventTypeNormal, "SnapshotCreated", "Snapshot %s/%s was successfully created by the CSI driver.", vs.Namespace, vs.Name)
	return s.client.SnapshotV1().VolumeSnapshotContents().UpdateStatus(ctx, content, metav1.UpdateOptions{})
}

// report copies the content's status to the snapshot.
func (s *Snapshotter) report(ctx context.Context, vs *snapv1.VolumeSnapshot, content *snapv1.VolumeSnapshotContent) error {
	vs = vs.DeepCopy()
	st := &snapv1.VolumeSnapshotStatus{BoundVolumeSnapshotContentName: &content.Name}
	if cs := content.Status; cs != nil {
		st.ReadyToUse = cs.ReadyToUse
		if cs.CreationTime != nil {
			st.CreationTime = ptr.To(metav1.NewTime(time.Unix(0, *cs.CreationTime)))
		}
		if cs.RestoreSize != nil {
			st.RestoreSize = resource.NewQuantity(*cs.RestoreSize, resource.BinarySI)
		}
	}
	vs.Status = st
	if _, err := s.client.SnapshotV1().VolumeSnapshots(vs.Namespace).UpdateStatus(ctx, vs, metav1.UpdateOptions{}); err != nil {
		return err
	}
	if st.ReadyToUse != nil && *st.ReadyToUse {
		s.rec.Eventf(vs, corev1.EventTypeNormal, "SnapshotReady", "Snapshot %s/%s is ready to use.", vs.Namespace, vs.Name)
	}
	return nil
}

// fail records why a snapshot cannot be taken, in its status.error and an event.
func (s *Snapshotter) fail(ctx context.Context, vs *snapv1.VolumeSnapshot, msg string) error {
	s.rec.Event(vs, corev1.EventTypeWarning, "SnapshotCreationFailed", msg)
	vs = vs.DeepCopy()
	if vs.Status == nil {
		vs.Status = &snapv1.VolumeSnapshotStatus{}
	}
	if e := vs.Status.Error; e != nil && e.Message != nil && *e.Message == msg {
		return nil
	}
	vs.Status.ReadyToUse = ptr.To(false)
	vs.Status.Error = &snapv1.VolumeSnapshotError{Time: ptr.To(metav1.Now()), Message: &msg}
	_, err := s.client.SnapshotV1().VolumeSnapshots(vs.Namespace).UpdateStatus(ctx, vs, metav1.UpdateOptions{})
	return err
}

// remove deletes a snapshot being deleted: its content (with DeleteSnapshot when the
// policy is Delete; a Retain content stays, unbound) and then the finalizer. Only the
// node that took the snapshot does it.
func (s *Snapshotter) remove(ctx context.Context, vs *snapv1.VolumeSnapshot) error {
	if !slices.Contains(vs.Finalizers, snapshotFinalizer) {
		return nil
	}
	content, err := s.contents.Get(ContentName(vs))
	switch {
	case apierrors.IsNotFound(err):
	case err != nil:
		return err
	case content.Annotations[snapshotterNodeAnn] != s.p.node.name:
		return nil
	default:
		if err := s.release(ctx, content); err != nil {
			s.rec.Eventf(vs, corev1.EventTypeWarning, "SnapshotDeleteError", "%v", err)
			return err
		}
	}
	vs = vs.DeepCopy()
	vs.Finalizers = slices.DeleteFunc(vs.Finalizers, func(f string) bool { return f == snapshotFinalizer })
	_, err = s.client.SnapshotV1().VolumeSnapshots(vs.Namespace).Update(ctx, vs, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// release lets a content go with its snapshot: DeleteSnapshot and the object for
// the Delete policy, only the finalizer for Retain.
func (s *Snapshotter) release(ctx context.Context, content *snapv1.VolumeSnapshotContent) error {
	if content.Spec.DeletionPolicy == snapv1.VolumeSnapshotContentDelete && content.Status != nil && content.Status.SnapshotHandle != nil {
		d, err := s.p.node.Driver(content.Spec.Driver)
		if err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		if _, err := d.controller.DeleteSnapshot(cctx, &csi.DeleteSnapshotRequest{SnapshotId: *content.Status.SnapshotHandle}); err != nil {
			return fmt.Errorf("DeleteSnapshot: %w", err)
		}
	}
	content = content.DeepCopy()
	content.Finalizers = slices.DeleteFunc(content.Finalizers, func(f string) bool { return f == contentFinalizer })
	if _, err := s.client.SnapshotV1().VolumeSnapshotContents().Update(ctx, content, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if content.Spec.DeletionPolicy != snapv1.VolumeSnapshotContentDelete {
		return nil
	}
	err := s.client.SnapshotV1().VolumeSnapshotContents().Delete(ctx, content.Name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
