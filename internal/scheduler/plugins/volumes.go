package plugins

import (
	"context"
	"fmt"
	"slices"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"

	fw "skiff/internal/scheduler/framework"
	vb "skiff/internal/volumebinding"
)

// Reasons of the volume plugin.
const (
	ReasonUnboundImmediate   = "pod has unbound immediate PersistentVolumeClaims"
	ReasonVolumeNodeAffinity = "node(s) had volume node affinity conflict"
	ReasonNoVolumeToBind     = "node(s) didn't find available persistent volumes to bind"
	// ReasonNoCSIDriver is followed by the driver's name.
	ReasonNoCSIDriver    = "node(s) did not have the CSI driver registered: "
	ReasonNotEnoughSpace = "node(s) did not have enough free storage"
	volumeBindingState   = VolumeBindingName
)

// VolumeBinding keeps pods whose claims cannot be used off nodes: an unbound claim
// of an Immediate class fails everywhere (the volume controller has to bind it
// first), and a claim bound to a PV with node affinity (a local PV) only fits the
// nodes that PV allows. An unbound WaitForFirstConsumer claim fits a node where a
// matching free volume is reachable, or any node if its class provisions volumes;
// once the pod has a node, SelectNode tells the claim (and so the PV controller
// and the provisioner) where that is.
type VolumeBinding struct {
	Claims  corelisters.PersistentVolumeClaimLister
	Volumes corelisters.PersistentVolumeLister
	Classes storagelisters.StorageClassLister
	// CSINodes, when set, keeps pods whose CSI volumes (bound, to be provisioned by
	// a CSI driver, or inline) need a driver off nodes whose CSINode lacks it.
	CSINodes storagelisters.CSINodeLister
	// Drivers and Capacities, when set, keep a pod whose claim a CSI driver with
	// storageCapacity: true is to provision off nodes for which the driver reports
	// no CSIStorageCapacity of the claim's class large enough for it.
	Drivers    storagelisters.CSIDriverLister
	Capacities storagelisters.CSIStorageCapacityLister
}

// Name implements fw.Plugin.
func (*VolumeBinding) Name() string { return VolumeBindingName }

type volumeState struct {
	terms [][]v1.NodeSelectorTerm
	// static are unbound WaitForFirstConsumer claims of a class that makes no
	// volumes, with the free volumes that could serve them on some node.
	static []staticClaim
	// drivers are the CSI drivers the pod's volumes need on the node.
	drivers []string
	// sized are claims to be provisioned by a driver that reports its capacity.
	sized []sizedClaim
}

type sizedClaim struct {
	class string
	bytes int64
}

type staticClaim struct {
	pvc        *v1.PersistentVolumeClaim
	candidates []*v1.PersistentVolume
}

func (s *volumeState) Clone() fw.StateData { return s }

// PreFilter implements fw.PreFilterPlugin.
func (b *VolumeBinding) PreFilter(_ context.Context, state *fw.CycleState, pod *fw.PodInfo, _ fw.Snapshot) *fw.Status {
	names := vb.PodClaims(pod.Pod)
	s := &volumeState{}
	for _, v := range pod.Pod.Spec.Volumes {
		if v.CSI != nil {
			s.needDriver(v.CSI.Driver)
		}
	}
	if len(names) == 0 || b.Claims == nil {
		if b.CSINodes != nil && len(s.drivers) > 0 {
			state.Write(volumeBindingState, s)
			return nil
		}
		return fw.NewStatus(fw.Skip)
	}
	for _, name := range names {
		if st := b.preFilterClaim(s, pod.Pod.Namespace, name); st != nil {
			return st
		}
	}
	if st := b.ephemeralOwned(pod.Pod); st != nil {
		return st
	}
	if b.CSINodes == nil {
		s.drivers = nil
	}
	if len(s.terms) == 0 && len(s.static) == 0 && len(s.drivers) == 0 && len(s.sized) == 0 {
		return fw.NewStatus(fw.Skip)
	}
	state.Write(volumeBindingState, s)
	return nil
}

// ephemeralOwned keeps a pod off every node while the claim named after one of
// its generic ephemeral volumes is not its own: that claim holds someone else's data.
func (b *VolumeBinding) ephemeralOwned(pod *v1.Pod) *fw.Status {
	for _, v := range pod.Spec.Volumes {
		if v.Ephemeral == nil {
			continue
		}
		name := pod.Name + "-" + v.Name
		if pvc, err := b.Claims.PersistentVolumeClaims(pod.Namespace).Get(name); err == nil && !metav1.IsControlledBy(pvc, pod) {
			return unresolvable(fmt.Sprintf("PVC %s/%s was not created for pod %s/%s (pod is not owner)", pod.Namespace, name, pod.Namespace, pod.Name))
		}
	}
	return nil
}

// preFilterClaim adds what one claim demands of nodes to s, or says why the claim
// makes the pod unschedulable.
func (b *VolumeBinding) preFilterClaim(s *volumeState, ns, name string) *fw.Status {
	pvc, err := b.Claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return unresolvable(fmt.Sprintf("persistentvolumeclaim %q not found", name))
	}
	if err != nil {
		return fw.NewStatus(fw.Error, err.Error())
	}
	if pvc.DeletionTimestamp != nil {
		return unresolvable(fmt.Sprintf("persistentvolumeclaim %q is being deleted", name))
	}
	if pvc.Spec.VolumeName != "" {
		terms, st := b.boundTerms(s, pvc)
		if terms != nil {
			s.terms = append(s.terms, terms)
		}
		return st
	}
	sc := b.waitingClass(pvc)
	if sc == nil {
		return unresolvable(ReasonUnboundImmediate)
	}
	if sc.Provisioner != vb.NoProvisioner && sc.Provisioner != vb.LocalPathProvisioner {
		s.needDriver(sc.Provisioner) // every other provisioner is a CSI driver here
		if b.reportsCapacity(sc.Provisioner) {
			req := pvc.Spec.Resources.Requests[v1.ResourceStorage]
			s.sized = append(s.sized, sizedClaim{class: sc.Name, bytes: req.Value()})
		}
	}
	if sc.Provisioner == vb.NoProvisioner {
		pvs, err := b.Volumes.List(labels.Everything())
		if err != nil {
			return fw.NewStatus(fw.Error, err.Error())
		}
		s.static = append(s.static, staticClaim{pvc: pvc, candidates: pvs})
	}
	return nil
}

// boundTerms returns the node selector terms of the PV bound to a claim (nil when
// it does not restrict nodes).
func (b *VolumeBinding) boundTerms(s *volumeState, pvc *v1.PersistentVolumeClaim) ([]v1.NodeSelectorTerm, *fw.Status) {
	pv, err := b.Volumes.Get(pvc.Spec.VolumeName)
	if err != nil {
		return nil, unresolvable(fmt.Sprintf("persistentvolume %q not found", pvc.Spec.VolumeName))
	}
	if pv.Spec.CSI != nil {
		s.needDriver(pv.Spec.CSI.Driver)
	}
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return nil, nil
	}
	return pv.Spec.NodeAffinity.Required.NodeSelectorTerms, nil
}

// waitingClass is the class of an unbound claim if it waits for its first
// consumer; nil if the claim must be bound before any pod can use it.
func (b *VolumeBinding) waitingClass(pvc *v1.PersistentVolumeClaim) *storagev1.StorageClass {
	name := vb.ClaimClass(pvc)
	if name == "" || b.Classes == nil {
		return nil
	}
	sc, err := b.Classes.Get(name)
	if err != nil || sc.VolumeBindingMode == nil || *sc.VolumeBindingMode != storagev1.VolumeBindingWaitForFirstConsumer {
		return nil
	}
	return sc
}

// Filter implements fw.FilterPlugin.
func (b *VolumeBinding) Filter(state *fw.CycleState, _ *fw.PodInfo, n *fw.NodeInfo) *fw.Status {
	s, _ := state.Read(volumeBindingState).(*volumeState)
	if s == nil {
		return nil
	}
	for _, terms := range s.terms {
		if !fw.MatchNodeSelectorTerms(n.Node, terms) {
			return unresolvable(ReasonVolumeNodeAffinity)
		}
	}
	for _, c := range s.static {
		if vb.BestMatch(c.pvc, c.candidates, n.Node) == nil {
			return unresolvable(ReasonNoVolumeToBind)
		}
	}
	for _, c := range s.sized {
		if !b.hasCapacity(n.Node, c) {
			// Not unresolvable: the driver may report more capacity later.
			return unschedulable(ReasonNotEnoughSpace)
		}
	}
	for _, d := range s.drivers {
		if !b.hasDriver(n.Node.Name, d) {
			// Not unresolvable: the driver's DaemonSet may register it soon.
			return unschedulable(ReasonNoCSIDriver + d)
		}
	}
	return nil
}

func (s *volumeState) needDriver(name string) {
	if !slices.Contains(s.drivers, name) {
		s.drivers = append(s.drivers, name)
	}
}

// hasDriver says whether the node's CSINode lists the driver.
func (b *VolumeBinding) hasDriver(node, driver string) bool {
	cn, err := b.CSINodes.Get(node)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(cn.Spec.Drivers, func(d storagev1.CSINodeDriver) bool { return d.Name == driver })
}

// reportsCapacity says whether the driver's CSIDriver object asks the scheduler to
// consult its CSIStorageCapacity objects (spec.storageCapacity).
func (b *VolumeBinding) reportsCapacity(driver string) bool {
	if b.Drivers == nil || b.Capacities == nil {
		return false
	}
	d, err := b.Drivers.Get(driver)
	return err == nil && d.Spec.StorageCapacity != nil && *d.Spec.StorageCapacity
}

// hasCapacity says whether some CSIStorageCapacity of the claim's class, in any
// namespace, is reachable from the node and could hold the claim: its
// maximumVolumeSize if the driver reports one, else its capacity. One without
// nodeTopology is reachable from no node, as in Kubernetes.
func (b *VolumeBinding) hasCapacity(node *v1.Node, c sizedClaim) bool {
	all, err := b.Capacities.List(labels.Everything())
	if err != nil {
		return false
	}
	return slices.ContainsFunc(all, func(cap *storagev1.CSIStorageCapacity) bool {
		if cap.StorageClassName != c.class || cap.NodeTopology == nil {
			return false
		}
		limit := cap.MaximumVolumeSize
		if limit == nil {
			limit = cap.Capacity
		}
		if limit == nil || limit.Value() < c.bytes {
			return false
		}
		sel, err := metav1.LabelSelectorAsSelector(cap.NodeTopology)
		return err == nil && sel.Matches(labels.Set(node.Labels))
	})
}

// SelectNode records node on the pod's unbound WaitForFirstConsumer claims, as
// kube-scheduler's PreBind does: the PV controller then binds a volume reachable
// from node, or the class's provisioner makes one there. It runs before the pod
// is bound, so a pod never runs with claims that do not know its node.
func (b *VolumeBinding) SelectNode(ctx context.Context, annotate ClaimAnnotator, pod *v1.Pod, node string) error {
	if b.Claims == nil {
		return nil
	}
	for _, name := range vb.PodClaims(pod) {
		pvc, err := b.Claims.PersistentVolumeClaims(pod.Namespace).Get(name)
		if err != nil || pvc.Spec.VolumeName != "" || pvc.Annotations[vb.AnnSelectedNode] == node || b.waitingClass(pvc) == nil {
			continue
		}
		if err := annotate(ctx, pvc.Namespace, pvc.Name, vb.AnnSelectedNode, node); err != nil {
			return fmt.Errorf("persistentvolumeclaim %q: %w", name, err)
		}
	}
	return nil
}

// ClaimAnnotator sets one annotation on a claim.
type ClaimAnnotator func(ctx context.Context, ns, name, key, value string) error
