package csi

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
	vb "skiff/internal/volumebinding"
)

// fsTypeParam is the StorageClass parameter that names the filesystem, as for
// external-provisioner; other csi.storage.k8s.io/ parameters are not passed on.
const fsTypeParam = "csi.storage.k8s.io/fstype"

// Provisioner is the agent's external-provisioner: it makes the volumes of claims
// whose class names a CSI driver registered on this node, when the claim's pod was
// scheduled here (WaitForFirstConsumer), or, for Immediate classes, when this is the
// first node (by name) whose CSINode lists the driver. It deletes Released volumes
// with the Delete policy that it can reach the same way.
//
// A CreateVolume that timed out (or failed in a way that says the driver may still
// be at it) may leave a volume behind. As external-provisioner does, the provisioner
// remembers the request until it knows: if the claim is deleted (or replaced) in the
// meantime, it asks CreateVolume again with the same name, which is idempotent, and
// then deletes what that returns.
type Provisioner struct {
	node     *Node
	claims   corelisters.PersistentVolumeClaimLister
	volumes  corelisters.PersistentVolumeLister
	classes  storagelisters.StorageClassLister
	attrs    storagelisters.VolumeAttributesClassLister
	csiNodes storagelisters.CSINodeLister
	rec      record.EventRecorder

	claimQueue  *controller.Controller
	volumeQueue *controller.Controller

	// timeout bounds CreateVolume and DeleteVolume (provisionTimeout).
	timeout time.Duration
	mu      sync.Mutex
	// uncertain are the CreateVolume requests that may have made a volume no
	// PersistentVolume records yet, by claim key.
	uncertain map[string]uncertainCreate
}

// uncertainCreate is a CreateVolume request whose outcome is not known, and the
// claim it was for.
type uncertainCreate struct {
	claim  types.UID
	driver string
	req    *csi.CreateVolumeRequest
}

// NewProvisioner registers the provisioner's informers on c.
func NewProvisioner(c *controller.Context, n *Node) *Provisioner {
	core, st := c.Informers.Core().V1(), c.Informers.Storage().V1()
	ci, vi, si, ni := core.PersistentVolumeClaims(), core.PersistentVolumes(), st.StorageClasses(), st.CSINodes()
	ai := st.VolumeAttributesClasses()
	p := &Provisioner{node: n, claims: ci.Lister(), volumes: vi.Lister(), classes: si.Lister(), attrs: ai.Lister(),
		csiNodes: ni.Lister(), rec: c.Recorder("csi-provisioner/" + n.name),
		timeout: provisionTimeout, uncertain: map[string]uncertainCreate{}}
	p.claimQueue = controller.New("csi-provision", p.syncClaim, 2)
	p.volumeQueue = controller.New("csi-delete", p.syncVolume, 1)
	p.claimQueue.Watch(ci.Informer(), p.claimQueue.Handler())
	p.claimQueue.Watch(si.Informer(), nil)
	p.claimQueue.Watch(vi.Informer(), nil)
	p.claimQueue.Watch(ni.Informer(), nil)
	// A claim waiting for its VolumeAttributesClass goes on once the class exists.
	p.claimQueue.Watch(ai.Informer(), controller.Each(p.classCreated))
	p.volumeQueue.Watch(vi.Informer(), p.volumeQueue.Handler())
	return p
}

// Run provisions and deletes until ctx ends. Claims are looked at again every 10 s:
// a driver that registers later does not change any object the queue watches.
func (p *Provisioner) Run(ctx context.Context) {
	go p.volumeQueue.Run(ctx)
	go func() {
		for ctx.Err() == nil {
			time.Sleep(10 * time.Second)
			if cs, err := p.claims.List(labels.Everything()); err == nil {
				for _, c := range cs {
					if c.Spec.VolumeName == "" {
						p.claimQueue.Enqueue(c)
					}
				}
			}
		}
	}()
	p.claimQueue.Run(ctx)
}

// responsible says whether this node provisions for pvc of class sc, with the driver.
func (p *Provisioner) responsible(pvc *corev1.PersistentVolumeClaim, sc *storagev1.StorageClass) (*Driver, bool) {
	d, err := p.node.Driver(sc.Provisioner)
	if err != nil || !d.provision {
		return nil, false
	}
	if sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer {
		return d, pvc.Annotations[vb.AnnSelectedNode] == p.node.name
	}
	return d, p.firstNodeWith(sc.Provisioner) == p.node.name
}

func (p *Provisioner) firstNodeWith(driver string) string {
	nodes, err := p.csiNodes.List(labels.Everything())
	if err != nil {
		return ""
	}
	var names []string
	for _, n := range nodes {
		for _, d := range n.Spec.Drivers {
			if d.Name == driver {
				names = append(names, n.Name)
			}
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// VolumeName is the PV made for a claim, so that a retry finds the one made before.
func VolumeName(pvc *corev1.PersistentVolumeClaim) string { return "pvc-" + string(pvc.UID) }

func (p *Provisioner) syncClaim(ctx context.Context, key string) error {
	pvc, found, err := controller.Get(key, p.claims.PersistentVolumeClaims)
	if err != nil {
		return err
	}
	if err := p.settle(ctx, key, pvc, found); err != nil {
		return err
	}
	if !found || pvc.DeletionTimestamp != nil || pvc.Spec.VolumeName != "" {
		return nil
	}
	sc, err := p.classes.Get(vb.ClaimClass(pvc))
	if err != nil {
		return nil
	}
	d, ok := p.responsible(pvc, sc)
	if !ok {
		return nil
	}
	if _, err := p.volumes.Get(VolumeName(pvc)); err == nil {
		p.forget(key)
		return nil
	}
	mutable, why := p.mutableParameters(pvc, d)
	if why != "" {
		p.rec.Eventf(pvc, corev1.EventTypeWarning, "ProvisioningFailed", "failed to provision volume with StorageClass %q: %s", sc.Name, why)
		return nil
	}
	pv, err := p.provision(ctx, key, d, pvc, sc, mutable)
	if err != nil {
		p.rec.Eventf(pvc, corev1.EventTypeWarning, "ProvisioningFailed", "failed to provision volume with StorageClass %q: %v", sc.Name, err)
		return err
	}
	_, err = p.node.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		p.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	p.forget(key)
	p.rec.Eventf(pvc, corev1.EventTypeNormal, "ProvisioningSucceeded", "Successfully provisioned volume %s", pv.Name)
	return nil
}

// provision calls CreateVolume (idempotent by name) and describes the result as a PV
// pre-bound to the claim. The request is remembered under key until a PV records
// its volume or the driver's answer says it made none.
func (p *Provisioner) provision(ctx context.Context, key string, d *Driver, pvc *corev1.PersistentVolumeClaim, sc *storagev1.StorageClass, mutable map[string]string) (*corev1.PersistentVolume, error) {
	if pvc.Spec.VolumeMode != nil && *pvc.Spec.VolumeMode == corev1.PersistentVolumeBlock {
		return nil, fmt.Errorf("volumeMode Block is not supported by skiff's CSI provisioner")
	}
	want := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	params := map[string]string{}
	for k, v := range sc.Parameters {
		if !strings.HasPrefix(k, "csi.storage.k8s.io/") {
			params[k] = v
		}
	}
	fsType := sc.Parameters[fsTypeParam]
	source, err := p.contentSource(ctx, d, pvc)
	if err != nil {
		return nil, err
	}
	req := &csi.CreateVolumeRequest{
		VolumeContentSource: source,
		Name:                VolumeName(pvc),
		CapacityRange:       &csi.CapacityRange{RequiredBytes: want.Value()},
		VolumeCapabilities:  []*csi.VolumeCapability{mountCapability(fsType, accessMode(pvc.Spec.AccessModes))},
		Parameters:          params,
		MutableParameters:   mutable,
	}
	if len(d.Topology) > 0 {
		here := &csi.Topology{Segments: d.Topology}
		req.AccessibilityRequirements = &csi.TopologyRequirement{Requisite: []*csi.Topology{here}, Preferred: []*csi.Topology{here}}
	}
	p.remember(key, uncertainCreate{claim: pvc.UID, driver: d.Name, req: req})
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := d.controller.CreateVolume(cctx, req)
	if err != nil {
		if !mayBeInProgress(err) {
			p.forget(key)
		}
		return nil, fmt.Errorf("CreateVolume: %w", err)
	}
	v := resp.GetVolume()
	capacity := want
	if v.GetCapacityBytes() > 0 {
		capacity = *resource.NewQuantity(v.GetCapacityBytes(), resource.BinarySI)
	}
	policy := corev1.PersistentVolumeReclaimDelete
	if sc.ReclaimPolicy != nil {
		policy = *sc.ReclaimPolicy
	}
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: VolumeName(pvc), Annotations: map[string]string{vb.AnnProvisionedBy: d.Name}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: capacity},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: policy,
			StorageClassName:              sc.Name,
			VolumeMode:                    pvc.Spec.VolumeMode,
			MountOptions:                  sc.MountOptions,
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
				Driver: d.Name, VolumeHandle: v.GetVolumeId(), FSType: fsType, VolumeAttributes: v.GetVolumeContext()}},
			NodeAffinity:              topologyAffinity(v.GetAccessibleTopology()),
			VolumeAttributesClassName: attributesClass(pvc),
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion},
		},
	}, nil
}

// topologyAffinity turns a volume's accessible topology into node affinity: one
// term per topology, each segment a label the node must carry (the agent labels the
// node with its drivers' segments at registration).
func topologyAffinity(tops []*csi.Topology) *corev1.VolumeNodeAffinity {
	var terms []corev1.NodeSelectorTerm
	for _, t := range tops {
		var term corev1.NodeSelectorTerm
		keys := make([]string, 0, len(t.GetSegments()))
		for k := range t.GetSegments() {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			term.MatchExpressions = append(term.MatchExpressions, corev1.NodeSelectorRequirement{
				Key: k, Operator: corev1.NodeSelectorOpIn, Values: []string{t.GetSegments()[k]}})
		}
		terms = append(terms, term)
	}
	if len(terms) == 0 {
		return nil
	}
	return &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: terms}}
}

// syncVolume deletes a Released volume with the Delete policy made by a driver of
// this node and reachable from it: first DeleteVolume, then the object.
func (p *Provisioner) syncVolume(ctx context.Context, key string) error {
	pv, err := p.volumes.Get(key)
	if err != nil || pv.Spec.CSI == nil || pv.Status.Phase != corev1.VolumeReleased ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete ||
		pv.Annotations[vb.AnnProvisionedBy] != pv.Spec.CSI.Driver {
		return nil
	}
	d, err := p.node.Driver(pv.Spec.CSI.Driver)
	if err != nil || !d.provision || !p.reaches(d, pv) {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	if _, err := d.controller.DeleteVolume(cctx, &csi.DeleteVolumeRequest{VolumeId: pv.Spec.CSI.VolumeHandle}); err != nil {
		p.rec.Eventf(pv, corev1.EventTypeWarning, "VolumeFailedDelete", "DeleteVolume: %v", err)
		return err
	}
	slog.Info("csi: volume deleted", "pv", pv.Name, "driver", d.Name)
	err = p.node.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pv.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// reaches says whether pv's topology includes this node's (volumes without
// topology are deleted by the first node with the driver).
func (p *Provisioner) reaches(d *Driver, pv *corev1.PersistentVolume) bool {
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return p.firstNodeWith(d.Name) == p.node.name
	}
	return vb.Reachable(pv, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: p.node.name, Labels: d.Topology}})
}

// mayBeInProgress says whether a CreateVolume error leaves open that the driver
// makes (or made) the volume anyway, as external-provisioner judges it: the call
// timed out, was cut off, or the driver is busy.
func mayBeInProgress(err error) bool {
	switch status.Code(err) {
	case codes.DeadlineExceeded, codes.Canceled, codes.Unavailable, codes.ResourceExhausted, codes.Aborted:
		return true
	}
	return false
}

func (p *Provisioner) remember(key string, u uncertainCreate) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.uncertain[key] = u
}

func (p *Provisioner) forget(key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.uncertain, key)
}

// settle cleans up after a CreateVolume whose outcome was unknown when its claim
// went away (deleted, being deleted, or replaced by a claim of the same name): it
// asks CreateVolume again, with the same request, and deletes the volume that
// answer names. A claim still there is provisioned the usual way instead. An
// error is retried with the queue's backoff.
func (p *Provisioner) settle(ctx context.Context, key string, pvc *corev1.PersistentVolumeClaim, found bool) error {
	p.mu.Lock()
	u, ok := p.uncertain[key]
	p.mu.Unlock()
	if !ok || (found && pvc.DeletionTimestamp == nil && pvc.UID == u.claim) {
		return nil
	}
	d, err := p.node.Driver(u.driver)
	if err != nil {
		return fmt.Errorf("volume %s of deleted claim %s may exist: %w", u.req.GetName(), key, err)
	}
	cctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	resp, err := d.controller.CreateVolume(cctx, u.req)
	if err != nil {
		if mayBeInProgress(err) {
			return fmt.Errorf("volume %s of deleted claim %s: CreateVolume: %w", u.req.GetName(), key, err)
		}
		p.forget(key) // the driver says it made no such volume
		return nil
	}
	id := resp.GetVolume().GetVolumeId()
	if _, err := d.controller.DeleteVolume(cctx, &csi.DeleteVolumeRequest{VolumeId: id}); err != nil {
		return fmt.Errorf("volume %s of deleted claim %s: DeleteVolume: %w", id, key, err)
	}
	slog.Info("csi: deleted the volume made for a claim deleted while it was being created", "claim", key, "volume", id, "driver", d.Name)
	p.forget(key)
	return nil
}
