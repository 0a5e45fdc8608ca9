// Package localpath is skiff's built-in provisioner for the local-path
// StorageClass. It runs in every node agent, because the volume is a directory on
// that node: when the scheduler selects the node for a claim's first pod (the
// volume.kubernetes.io/selected-node annotation), the agent makes the directory,
// then creates a local PersistentVolume pinned to the node and pre-bound to the
// claim; the PV controller completes the binding. When such a volume is Released
// with reclaim policy Delete, the agent removes the directory and the PV.
//
// A claim larger than the free space of the node's data dir is refused. Where
// the data dir's filesystem enforces project quotas, each volume is limited to
// its size (quota.go); elsewhere the size is only recorded, and the volume's
// annotation and the claim's event say so. Claims grow (allowVolumeExpansion)
// after the same free-space check, raising the quota where there is one.
package localpath

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
	vb "skiff/internal/volumebinding"
)

// Dirs says where the volumes of node live, and whether this provisioner serves
// node at all.
type Dirs func(node string) (dir string, ok bool)

// OneNode serves node only, with its volumes under dir: a node agent's provisioner.
func OneNode(node, dir string) Dirs {
	return func(n string) (string, bool) { return dir, n == node }
}

// Provisioner makes and removes the local-path volumes of the nodes it serves.
type Provisioner struct {
	client  kubernetes.Interface
	dirs    Dirs
	claims  corelisters.PersistentVolumeClaimLister
	volumes corelisters.PersistentVolumeLister
	classes storagelisters.StorageClassLister
	rec     record.EventRecorder
	// free reports the bytes available under dir; a variable so tests can fake a full disk.
	free func(dir string) (int64, error)
	// quotas limits volumes to their size where the filesystem allows it.
	quotas Quotas
	mu     sync.Mutex
	// unenforced says, per data dir, why sizes are not enforced there ("": they
	// are), found out once.
	unenforced map[string]string

	claimQueue  *controller.Controller
	volumeQueue *controller.Controller
}

// New returns the provisioner of the nodes dirs serves. It registers informers on
// c; the caller starts them and then calls Run.
func New(c *controller.Context, dirs Dirs) *Provisioner {
	core := c.Informers.Core().V1()
	ci, vi := core.PersistentVolumeClaims(), core.PersistentVolumes()
	si := c.Informers.Storage().V1().StorageClasses()
	p := &Provisioner{client: c.Client, dirs: dirs, claims: ci.Lister(), volumes: vi.Lister(),
		classes: si.Lister(), rec: c.Recorder(vb.LocalPathProvisioner), free: freeBytes,
		quotas: ProjectQuotas{}, unenforced: map[string]string{}}
	p.claimQueue = controller.New("local-path-provision", p.syncClaim, 2)
	p.volumeQueue = controller.New("local-path-delete", p.syncVolume, 1)
	p.claimQueue.Watch(ci.Informer(), p.claimQueue.Handler())
	p.claimQueue.Watch(si.Informer(), nil)
	p.claimQueue.Watch(vi.Informer(), nil)
	p.volumeQueue.Watch(vi.Informer(), p.volumeQueue.Handler())
	return p
}

// Run provisions and deletes until ctx ends.
func (p *Provisioner) Run(ctx context.Context) {
	go p.volumeQueue.Run(ctx)
	p.claimQueue.Run(ctx)
}

// Start builds the provisioner over client with its own informers and runs it
// until ctx ends: what a node agent (or the node simulator) calls.
func Start(ctx context.Context, client kubernetes.Interface, dirs Dirs) {
	c := controller.NewContext(client, 10*time.Minute)
	p := New(c, dirs)
	c.Informers.Start(ctx.Done())
	slog.Info("local-path provisioner started")
	p.Run(ctx)
}

// Annotations of the volumes: the project whose quota limits the volume, or why
// its size is not enforced.
const (
	AnnProjectID       = "local-path.skiff.dev/project-id"
	AnnSizeNotEnforced = "local-path.skiff.dev/size-not-enforced"
)

// VolumeName is the PV made for a claim: one per claim, so a retry finds the one
// made before.
func VolumeName(pvc *corev1.PersistentVolumeClaim) string { return "pvc-" + string(pvc.UID) }

func (p *Provisioner) syncClaim(ctx context.Context, key string) error {
	pvc, found, err := controller.Get(key, p.claims.PersistentVolumeClaims)
	if !found || err != nil {
		return err
	}
	if pvc.Spec.VolumeName != "" {
		return p.resize(ctx, pvc)
	}
	node := pvc.Annotations[vb.AnnSelectedNode]
	dir, serves := p.dirs(node)
	if pvc.DeletionTimestamp != nil || !serves {
		return nil
	}
	sc, err := p.classes.Get(vb.ClaimClass(pvc))
	if err != nil || sc.Provisioner != vb.LocalPathProvisioner {
		return nil
	}
	if _, err := p.volumes.Get(VolumeName(pvc)); err == nil {
		return nil
	}
	if why := p.refuse(pvc, dir); why != "" {
		p.rec.Eventf(pvc, corev1.EventTypeWarning, "ProvisioningFailed", "failed to provision volume on node %s: %s", node, why)
		return nil
	}
	pv := newVolume(pvc, node, dir, sc.Name, sc.ReclaimPolicy, sc.MountOptions)
	if err := os.MkdirAll(pv.Spec.Local.Path, 0o777); err != nil {
		p.rec.Eventf(pvc, corev1.EventTypeWarning, "ProvisioningFailed", "failed to provision volume on node %s: %v", node, err)
		return err
	}
	// World-writable, as a fresh disk would be to its first user: the pod's user
	// is not known here.
	if err := os.Chmod(pv.Spec.Local.Path, 0o777); err != nil {
		return err
	}
	limit := p.limit(dir, pv)
	_, err = p.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	if err != nil {
		return err
	}
	p.rec.Eventf(pvc, corev1.EventTypeNormal, "ProvisioningSucceeded",
		"Successfully provisioned volume %s on node %s at %s (%s)", pv.Name, node, pv.Spec.Local.Path, limit)
	return nil
}

// limit gives a new volume's directory a project quota of its size where dir's
// filesystem enforces them, and notes on pv which it is, or why there is none.
// It returns what a person reads about the size.
func (p *Provisioner) limit(dir string, pv *corev1.PersistentVolume) string {
	why := p.unenforcedIn(dir)
	if why == "" {
		id := ProjectID(pv.Name)
		size := pv.Spec.Capacity[corev1.ResourceStorage]
		if err := p.quotas.Limit(pv.Spec.Local.Path, id, size.Value()); err != nil {
			why = err.Error()
		} else {
			pv.Annotations[AnnProjectID] = strconv.FormatUint(uint64(id), 10)
			return fmt.Sprintf("limited to %s by project quota %d", size.String(), id)
		}
	}
	pv.Annotations[AnnSizeNotEnforced] = why
	return "its size is recorded, not enforced: " + why
}

// unenforcedIn says why dir's filesystem cannot limit sizes, or "", asking once.
func (p *Provisioner) unenforcedIn(dir string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	why, known := p.unenforced[dir]
	if !known {
		why = p.quotas.Unsupported(dir)
		p.unenforced[dir] = why
		if why == "" {
			slog.Info("local-path: volume sizes are enforced with project quotas", "dir", dir)
		} else {
			slog.Info("local-path: volume sizes are not enforced", "dir", dir, "why", why)
		}
	}
	return why
}

// projectOf is the project whose quota limits pv, if any.
func projectOf(pv *corev1.PersistentVolume) (uint32, bool) {
	id, err := strconv.ParseUint(pv.Annotations[AnnProjectID], 10, 32)
	return uint32(id), err == nil
}

// refuse says why a claim cannot be made here, or "".
func (p *Provisioner) refuse(pvc *corev1.PersistentVolumeClaim, dir string) string {
	if pvc.Spec.VolumeMode != nil && *pvc.Spec.VolumeMode == corev1.PersistentVolumeBlock {
		return "local-path volumes are directories: volumeMode Block is not supported"
	}
	if pvc.Spec.DataSource != nil || pvc.Spec.DataSourceRef != nil {
		return "local-path volumes cannot be populated from a data source"
	}
	if name := pvc.Spec.VolumeAttributesClassName; name != nil && *name != "" {
		return fmt.Sprintf("VolumeAttributesClass %q: only CSI drivers apply volume attributes, local-path volumes have none", *name)
	}
	want := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err.Error()
	}
	free, err := p.free(dir)
	if err != nil {
		return err.Error()
	}
	if want.Value() > free {
		return fmt.Sprintf("requested %s but %s has only %s free", want.String(), dir, resource.NewQuantity(free, resource.BinarySI).String())
	}
	return ""
}

func newVolume(pvc *corev1.PersistentVolumeClaim, node, dir, class string, reclaim *corev1.PersistentVolumeReclaimPolicy, mountOptions []string) *corev1.PersistentVolume {
	name := VolumeName(pvc)
	policy := corev1.PersistentVolumeReclaimDelete
	if reclaim != nil {
		policy = *reclaim
	}
	return &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{vb.AnnProvisionedBy: vb.LocalPathProvisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: policy,
			StorageClassName:              class,
			VolumeMode:                    pvc.Spec.VolumeMode,
			MountOptions:                  mountOptions,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: filepath.Join(dir, name)}},
			NodeAffinity:                  &corev1.VolumeNodeAffinity{Required: nodeSelector(node)},
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID, ResourceVersion: pvc.ResourceVersion},
		},
	}
}

func nodeSelector(node string) *corev1.NodeSelector {
	return &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
		Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}
}

// syncVolume deletes a Released local-path volume of this node whose policy is
// Delete: first the directory, then the object, so a failure leaves the object to
// retry with.
func (p *Provisioner) syncVolume(ctx context.Context, key string) error {
	pv, err := p.volumes.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !p.owns(pv) || pv.Status.Phase != corev1.VolumeReleased || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil
	}
	if err := os.RemoveAll(pv.Spec.Local.Path); err != nil {
		p.rec.Eventf(pv, corev1.EventTypeWarning, "VolumeFailedDelete", "remove %s: %v", pv.Spec.Local.Path, err)
		return err
	}
	if id, ok := projectOf(pv); ok {
		if err := p.quotas.Clear(filepath.Dir(pv.Spec.Local.Path), id); err != nil {
			slog.Warn("local-path: clearing the quota of a deleted volume", "pv", pv.Name, "err", err)
		}
	}
	err = p.client.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pv.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// owns reports whether pv is a local-path volume made on a node served here, in
// that node's directory: nothing else is ever removed.
func (p *Provisioner) owns(pv *corev1.PersistentVolume) bool {
	if pv.Annotations[vb.AnnProvisionedBy] != vb.LocalPathProvisioner || pv.Spec.Local == nil {
		return false
	}
	node := volumeNode(pv)
	dir, serves := p.dirs(node)
	if !serves || filepath.Dir(pv.Spec.Local.Path) != filepath.Clean(dir) || !strings.HasPrefix(filepath.Base(pv.Spec.Local.Path), "pvc-") {
		return false
	}
	return vb.Reachable(pv, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node, Labels: map[string]string{corev1.LabelHostname: node}}})
}

// volumeNode is the node a local-path volume was made on, as newVolume wrote it.
func volumeNode(pv *corev1.PersistentVolume) string {
	na := pv.Spec.NodeAffinity
	if na == nil || na.Required == nil || len(na.Required.NodeSelectorTerms) != 1 {
		return ""
	}
	exprs := na.Required.NodeSelectorTerms[0].MatchExpressions
	if len(exprs) != 1 || exprs[0].Key != corev1.LabelHostname || len(exprs[0].Values) != 1 {
		return ""
	}
	return exprs[0].Values[0]
}

func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * st.Bsize, nil
}
