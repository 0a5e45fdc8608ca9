// Package attachdetach is the attach/detach controller: it keeps one VolumeAttachment
// per CSI volume and node for every volume a pod scheduled there uses, when the
// volume's driver needs attaching (CSIDriver attachRequired, true when there is no
// CSIDriver), and deletes the attachments no pod needs any more. The node agent's
// attacher (internal/csi) does the ControllerPublish and reports in the status; the
// kubelet waits for it before staging the volume. An attach error the attacher
// reports is told to the pods waiting for it (a FailedAttachVolume event).
package attachdetach

import (
	"context"
	"errors"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
	"skiff/internal/csi"
	vb "skiff/internal/volumebinding"
)

// key is the one queue key: the controller reconciles all attachments at once, which
// keeps it level-triggered and simple (attachments are few).
const key = "all"

// managedBy marks the attachments this controller made, the only ones it deletes.
const managedBy = "skiff.io/attach-detach-controller"

// Controller is the attach/detach controller.
type Controller struct {
	client kubernetes.Interface
	// pods indexes the pods that use claims, the only ones with attachments: a
	// sync must not walk every pod of a large cluster.
	pods        cache.Indexer
	claims      corelisters.PersistentVolumeClaimLister
	volumes     corelisters.PersistentVolumeLister
	drivers     storagelisters.CSIDriverLister
	attachments storagelisters.VolumeAttachmentLister
	queue       *controller.Controller
	rec         record.EventRecorder
	// reported is the time of each attachment's attach error last told to its
	// pods, so that one error is one event per pod however often the queue syncs.
	reported map[string]metav1.Time
}

// New returns the attach/detach controller.
func New(c *controller.Context) *Controller {
	core, st := c.Informers.Core().V1(), c.Informers.Storage().V1()
	pi, ci, vi := core.Pods(), core.PersistentVolumeClaims(), core.PersistentVolumes()
	di, ai := st.CSIDrivers(), st.VolumeAttachments()
	if err := pi.Informer().AddIndexers(cache.Indexers{claimIndex: podWithClaims}); err != nil {
		utilruntime.HandleError(err)
	}
	ad := &Controller{client: c.Client, pods: pi.Informer().GetIndexer(), claims: ci.Lister(), volumes: vi.Lister(),
		drivers: di.Lister(), attachments: ai.Lister(), rec: c.Recorder("attachdetach-controller"),
		reported: map[string]metav1.Time{}}
	ad.queue = controller.New("attachdetach", ad.sync, 1)
	all := controller.Each(func(any) { ad.queue.Queue.Add(key) })
	// A pod's volumes never change: one without claims never matters here.
	ad.queue.Watch(pi.Informer(), controller.Each(func(obj any) {
		if pod, ok := controller.Unwrap[*corev1.Pod](obj); ok && len(vb.PodClaims(pod)) > 0 {
			ad.queue.Queue.Add(key)
		}
	}))
	ad.queue.Watch(ci.Informer(), all)
	ad.queue.Watch(vi.Informer(), all)
	ad.queue.Watch(di.Informer(), all)
	ad.queue.Watch(ai.Informer(), all)
	return ad
}

// Run works the queue until ctx ends.
func (ad *Controller) Run(ctx context.Context) { ad.queue.Run(ctx) }

func (ad *Controller) sync(ctx context.Context, _ string) error {
	want, users, err := ad.desired()
	if err != nil {
		return err
	}
	have, err := ad.attachments.List(labels.Everything())
	if err != nil {
		return err
	}
	ad.reportErrors(have, users)
	var errs []error
	for _, va := range have {
		if _, ok := want[va.Name]; ok {
			delete(want, va.Name)
			continue
		}
		if va.Annotations[managedBy] == "true" && va.DeletionTimestamp == nil {
			err := ad.client.StorageV1().VolumeAttachments().Delete(ctx, va.Name, metav1.DeleteOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	for _, va := range want {
		if _, err := ad.client.StorageV1().VolumeAttachments().Create(ctx, va, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// reportErrors tells the pods that need an attachment about its new attach error.
func (ad *Controller) reportErrors(have []*storagev1.VolumeAttachment, users map[string][]*corev1.Pod) {
	seen := map[string]bool{}
	for _, va := range have {
		e := va.Status.AttachError
		if e == nil || va.Status.Attached {
			continue
		}
		seen[va.Name] = true
		if last, ok := ad.reported[va.Name]; ok && last.Equal(&e.Time) {
			continue
		}
		ad.reported[va.Name] = e.Time
		for _, pod := range users[va.Name] {
			ad.rec.Eventf(pod, corev1.EventTypeWarning, "FailedAttachVolume",
				"AttachVolume.Attach failed for volume %q : %s", ptr.Deref(va.Spec.Source.PersistentVolumeName, ""), e.Message)
		}
	}
	for name := range ad.reported {
		if !seen[name] {
			delete(ad.reported, name)
		}
	}
}

// desired are the attachments the pods on nodes need, by name, and the pods that
// need each. A pod keeps its volumes attached until it is finished or gone: the
// kubelet unpublishes first.
func (ad *Controller) desired() (map[string]*storagev1.VolumeAttachment, map[string][]*corev1.Pod, error) {
	pods, err := ad.pods.ByIndex(claimIndex, "yes")
	if err != nil {
		return nil, nil, err
	}
	out, users := map[string]*storagev1.VolumeAttachment{}, map[string][]*corev1.Pod{}
	for _, obj := range pods {
		pod := obj.(*corev1.Pod)
		if pod.Spec.NodeName == "" || pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		for _, name := range vb.PodClaims(pod) {
			if pv := ad.csiVolume(pod.Namespace, name); pv != nil && ad.attachRequired(pv.Spec.CSI.Driver) {
				va := attachment(pv, pod.Spec.NodeName)
				out[va.Name] = va
				users[va.Name] = append(users[va.Name], pod)
			}
		}
	}
	return out, users, nil
}

// claimIndex files the pods that use persistent volume claims under "yes".
const claimIndex = "attachdetach-claims"

func podWithClaims(obj any) ([]string, error) {
	if pod, ok := obj.(*corev1.Pod); ok && len(vb.PodClaims(pod)) > 0 {
		return []string{"yes"}, nil
	}
	return nil, nil
}

// csiVolume is the CSI volume bound to a claim, or nil.
func (ad *Controller) csiVolume(ns, claim string) *corev1.PersistentVolume {
	pvc, err := ad.claims.PersistentVolumeClaims(ns).Get(claim)
	if err != nil || pvc.Spec.VolumeName == "" {
		return nil
	}
	pv, err := ad.volumes.Get(pvc.Spec.VolumeName)
	if err != nil || pv.Spec.CSI == nil {
		return nil
	}
	return pv
}

func (ad *Controller) attachRequired(driver string) bool {
	d, err := ad.drivers.Get(driver)
	return err != nil || d.Spec.AttachRequired == nil || *d.Spec.AttachRequired
}

func attachment(pv *corev1.PersistentVolume, node string) *storagev1.VolumeAttachment {
	name := pv.Name
	return &storagev1.VolumeAttachment{
		ObjectMeta: metav1.ObjectMeta{
			Name:        csi.AttachmentName(pv.Spec.CSI.Driver, pv.Spec.CSI.VolumeHandle, node),
			Annotations: map[string]string{managedBy: "true"},
		},
		Spec: storagev1.VolumeAttachmentSpec{Attacher: pv.Spec.CSI.Driver, NodeName: node,
			Source: storagev1.VolumeAttachmentSource{PersistentVolumeName: &name}},
	}
}
