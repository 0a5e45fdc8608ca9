package plugins

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"

	fw "skiff/internal/scheduler/framework"
)

// Reasons of the volume plugin.
const (
	ReasonUnboundImmediate     = "pod has unbound immediate PersistentVolumeClaims"
	ReasonVolumeNodeAffinity   = "node(s) had volume node affinity conflict"
	volumeBindingState         = VolumeBindingName
	volumeBindingModeImmediate = storagev1.VolumeBindingImmediate
)

// VolumeBinding keeps pods whose claims cannot be used off nodes: an unbound claim
// of an Immediate class fails everywhere (the volume controller has to bind it
// first), and a claim bound to a PV with node affinity (a local PV) only fits the
// nodes that PV allows. WaitForFirstConsumer claims pass; binding them once a node
// is chosen belongs to the storage controllers.
type VolumeBinding struct {
	Claims  corelisters.PersistentVolumeClaimLister
	Volumes corelisters.PersistentVolumeLister
	Classes storagelisters.StorageClassLister
}

// Name implements fw.Plugin.
func (*VolumeBinding) Name() string { return VolumeBindingName }

type volumeState struct{ terms [][]v1.NodeSelectorTerm }

func (s *volumeState) Clone() fw.StateData { return s }

// claimNames lists the claims a pod uses, generic ephemeral volumes included (their
// claim is named <pod>-<volume>).
func claimNames(pod *v1.Pod) []string {
	var out []string
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			out = append(out, v.PersistentVolumeClaim.ClaimName)
		case v.Ephemeral != nil:
			out = append(out, pod.Name+"-"+v.Name)
		}
	}
	return out
}

// PreFilter implements fw.PreFilterPlugin.
func (b *VolumeBinding) PreFilter(_ context.Context, state *fw.CycleState, pod *fw.PodInfo, _ fw.Snapshot) *fw.Status {
	names := claimNames(pod.Pod)
	if len(names) == 0 || b.Claims == nil {
		return fw.NewStatus(fw.Skip)
	}
	s := &volumeState{}
	for _, name := range names {
		terms, st := b.claimTerms(pod.Pod.Namespace, name)
		if st != nil {
			return st
		}
		if terms != nil {
			s.terms = append(s.terms, terms)
		}
	}
	if len(s.terms) == 0 {
		return fw.NewStatus(fw.Skip)
	}
	state.Write(volumeBindingState, s)
	return nil
}

// claimTerms returns the node selector terms of the PV bound to a claim (nil when
// the claim does not restrict nodes), or why the claim makes the pod unschedulable.
func (b *VolumeBinding) claimTerms(ns, name string) ([]v1.NodeSelectorTerm, *fw.Status) {
	pvc, err := b.Claims.PersistentVolumeClaims(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil, unresolvable(fmt.Sprintf("persistentvolumeclaim %q not found", name))
	}
	if err != nil {
		return nil, fw.NewStatus(fw.Error, err.Error())
	}
	if pvc.DeletionTimestamp != nil {
		return nil, unresolvable(fmt.Sprintf("persistentvolumeclaim %q is being deleted", name))
	}
	if pvc.Spec.VolumeName == "" {
		if b.waitForFirstConsumer(pvc) {
			return nil, nil
		}
		return nil, unresolvable(ReasonUnboundImmediate)
	}
	pv, err := b.Volumes.Get(pvc.Spec.VolumeName)
	if err != nil {
		return nil, unresolvable(fmt.Sprintf("persistentvolume %q not found", pvc.Spec.VolumeName))
	}
	if pv.Spec.NodeAffinity == nil || pv.Spec.NodeAffinity.Required == nil {
		return nil, nil
	}
	return pv.Spec.NodeAffinity.Required.NodeSelectorTerms, nil
}

func (b *VolumeBinding) waitForFirstConsumer(pvc *v1.PersistentVolumeClaim) bool {
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName == "" || b.Classes == nil {
		return false
	}
	sc, err := b.Classes.Get(*pvc.Spec.StorageClassName)
	if err != nil || sc.VolumeBindingMode == nil {
		return false
	}
	return *sc.VolumeBindingMode != volumeBindingModeImmediate
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
	return nil
}
