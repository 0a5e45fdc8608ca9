package apiserver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	admissionapi "k8s.io/apiserver/pkg/admission"
	kubeletapis "k8s.io/kubelet/pkg/apis"

	"skiff/internal/auth"
)

// nodeRestriction is Kubernetes' NodeRestriction admission plugin: the node authorizer
// lets nodes write Nodes, Leases and pods at all; this plugin limits those writes to
// the node's own objects.
type nodeRestriction struct{}

var _ admissionapi.ValidationInterface = nodeRestriction{}

// nodeRestrictionNamespace is the label namespace only administrators may set.
const nodeRestrictionNamespace = "node-restriction.kubernetes.io"

// controlPlaneLabel marks the nodes of the servers.
const controlPlaneLabel = "node-role.kubernetes.io/control-plane"

// mirrorPodAnnotation marks the API copy of a node's static pod.
const mirrorPodAnnotation = "kubernetes.io/config.mirror"

func (nodeRestriction) Handles(op admissionapi.Operation) bool {
	return op == admissionapi.Create || op == admissionapi.Update || op == admissionapi.Delete
}

func (nodeRestriction) Validate(_ context.Context, at admissionapi.Attributes, _ admissionapi.ObjectInterfaces) error {
	u := at.GetUserInfo()
	if u == nil {
		return nil
	}
	node, ok := auth.NodeName(&auth.User{Name: u.GetName(), Groups: u.GetGroups()})
	if !ok {
		return nil
	}
	var err error
	switch gr := at.GetResource().GroupResource(); {
	case gr.Group == "" && gr.Resource == "pods":
		err = admitPod(node, at)
	case gr.Group == "" && gr.Resource == "nodes":
		err = admitNode(node, slices.Contains(u.GetGroups(), auth.ControlPlaneNodes), at)
	case gr.Group == "" && gr.Resource == "persistentvolumes":
		err = admitVolume(node, at)
	case gr.Group == "" && gr.Resource == "persistentvolumeclaims":
		err = admitClaimStatus(node, at)
	case gr.Group == "storage.k8s.io" && gr.Resource == "csinodes":
		if at.GetName() != node {
			err = fmt.Errorf("node %q can only write its own CSINode", node)
		}
	case gr.Group == "storage.k8s.io" && gr.Resource == "volumeattachments":
		va, _ := at.GetOldObject().(*storagev1.VolumeAttachment)
		if va == nil || va.Spec.NodeName != node {
			err = fmt.Errorf("node %q can only update VolumeAttachments to itself", node)
		}
	case gr.Group == "coordination.k8s.io" && gr.Resource == "leases":
		if at.GetNamespace() != "kube-node-lease" || at.GetName() != node {
			err = fmt.Errorf("can only access node lease with the same name as the requesting node")
		}
	case gr.Group == "discovery.k8s.io" && gr.Resource == "endpointslices":
		if at.GetName() != auth.DNSSliceName(node) {
			err = fmt.Errorf("node %q can only write the EndpointSlice %q", node, auth.DNSSliceName(node))
		}
	case gr.Group == "" && gr.Resource == "services":
		if at.GetName() != auth.DNSService {
			err = fmt.Errorf("node %q can only write the Service %q", node, auth.DNSService)
		}
	case gr.Group == "certificates.k8s.io" && gr.Resource == "podcertificaterequests":
		if pcr, _ := at.GetObject().(*certificatesv1.PodCertificateRequest); at.GetOperation() != admissionapi.Create || pcr == nil || string(pcr.Spec.NodeName) != node {
			err = fmt.Errorf("node %q can only create PodCertificateRequests for itself", node)
		}
	case gr.Group == "networking.k8s.io" && gr.Resource == "ingressclasses":
		if at.GetName() != auth.IngressClassName {
			err = fmt.Errorf("node %q can only create the IngressClass %q", node, auth.IngressClassName)
		}
	}
	if err != nil {
		return admissionapi.NewForbidden(at, err)
	}
	return nil
}

// admitVolume lets a node create and delete its own volumes, grow and modify them:
// an update may change nothing but a larger spec.capacity and the volume's
// attributes class.
func admitVolume(node string, at admissionapi.Attributes) error {
	pv, _ := at.GetObject().(*corev1.PersistentVolume)
	old, _ := at.GetOldObject().(*corev1.PersistentVolume)
	if at.GetOperation() == admissionapi.Delete {
		pv = old
	}
	if pv == nil || !pinnedTo(pv, node) {
		return fmt.Errorf("node %q can only create, delete and grow local and CSI volumes bound to itself", node)
	}
	if at.GetOperation() != admissionapi.Update {
		return nil
	}
	size, oldSize := pv.Spec.Capacity[corev1.ResourceStorage], old.Spec.Capacity[corev1.ResourceStorage]
	grown := pv.DeepCopy()
	grown.Spec.Capacity = old.Spec.Capacity
	// The node's modifier records the class its driver applied (never none).
	if pv.Spec.VolumeAttributesClassName != nil {
		grown.Spec.VolumeAttributesClassName = old.Spec.VolumeAttributesClassName
	}
	if at.GetSubresource() != "" || size.Cmp(oldSize) < 0 || !apiequality.Semantic.DeepEqual(grown.Spec, old.Spec) ||
		!maps.Equal(pv.Labels, old.Labels) || !maps.Equal(pv.Annotations, old.Annotations) {
		return fmt.Errorf("node %q can only grow spec.capacity and set spec.volumeAttributesClassName of its volumes", node)
	}
	return nil
}

// admitClaimStatus lets a node record an expansion or a modification in a claim's
// status (the node authorizer checked the claim is its own or its pods'):
// capacity, allocated resources, their statuses, conditions, and the class of
// volume attributes with the modification's status.
func admitClaimStatus(node string, at admissionapi.Attributes) error {
	pvc, _ := at.GetObject().(*corev1.PersistentVolumeClaim)
	old, _ := at.GetOldObject().(*corev1.PersistentVolumeClaim)
	if at.GetOperation() != admissionapi.Update || at.GetSubresource() != "status" || pvc == nil || old == nil {
		return fmt.Errorf("node %q can only update the status of claims", node)
	}
	st := pvc.Status.DeepCopy()
	st.Capacity, st.AllocatedResources, st.AllocatedResourceStatuses, st.Conditions =
		old.Status.Capacity, old.Status.AllocatedResources, old.Status.AllocatedResourceStatuses, old.Status.Conditions
	st.CurrentVolumeAttributesClassName, st.ModifyVolumeStatus = old.Status.CurrentVolumeAttributesClassName, old.Status.ModifyVolumeStatus
	if !apiequality.Semantic.DeepEqual(*st, old.Status) {
		return fmt.Errorf("node %q can only update status.capacity, allocatedResources, allocatedResourceStatuses, conditions, currentVolumeAttributesClassName and modifyVolumeStatus of claims", node)
	}
	return nil
}

func admitPod(node string, at admissionapi.Attributes) error {
	pod, _ := at.GetObject().(*corev1.Pod)
	old, _ := at.GetOldObject().(*corev1.Pod)
	switch {
	case at.GetOperation() == admissionapi.Create && at.GetSubresource() == "":
		if _, mirror := pod.Annotations[mirrorPodAnnotation]; !mirror {
			return fmt.Errorf("pod does not have %q annotation, node %q can only create mirror pods", mirrorPodAnnotation, node)
		}
		if pod.Spec.NodeName != node {
			return fmt.Errorf("node %q can only create pods with spec.nodeName set to itself", node)
		}
		if len(pod.OwnerReferences) > 0 || pod.Spec.ServiceAccountName != "" || podUsesObjects(pod) {
			return fmt.Errorf("node %q can not create pods that reference secrets, configmaps, service accounts, volume claims or owners", node)
		}
	case at.GetOperation() == admissionapi.Delete:
		if old == nil || old.Spec.NodeName != node {
			return fmt.Errorf("node %q can only delete pods with spec.nodeName set to itself", node)
		}
	case at.GetSubresource() == "status":
		if old == nil || old.Spec.NodeName != node {
			return fmt.Errorf("node %q can only update pod status for pods with spec.nodeName set to itself", node)
		}
	default:
		return fmt.Errorf("node %q can only create mirror pods, update their status and delete its own pods", node)
	}
	return nil
}

// podUsesObjects reports volumes or environment that would let a mirror pod read an
// object the node could not read itself.
func podUsesObjects(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.Secret != nil || v.ConfigMap != nil || v.PersistentVolumeClaim != nil || v.Projected != nil || v.Ephemeral != nil {
			return true
		}
	}
	for _, c := range slices.Concat(pod.Spec.InitContainers, pod.Spec.Containers) {
		if len(c.EnvFrom) > 0 {
			return true
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && (e.ValueFrom.SecretKeyRef != nil || e.ValueFrom.ConfigMapKeyRef != nil) {
				return true
			}
		}
	}
	return false
}

func admitNode(node string, controlPlane bool, at admissionapi.Attributes) error {
	if at.GetName() != node {
		return fmt.Errorf("node %q is not allowed to modify node %q", node, at.GetName())
	}
	obj, _ := at.GetObject().(*corev1.Node)
	old, _ := at.GetOldObject().(*corev1.Node)
	switch at.GetOperation() {
	case admissionapi.Create:
		if bad := restrictedLabels(obj.Labels, nil, controlPlane); len(bad) > 0 {
			return fmt.Errorf("node %q is not allowed to set the following labels: %s", node, strings.Join(bad, ", "))
		}
	case admissionapi.Update:
		if at.GetSubresource() == "status" {
			return nil
		}
		if bad := restrictedLabels(obj.Labels, old.Labels, controlPlane); len(bad) > 0 {
			return fmt.Errorf("node %q is not allowed to modify labels: %s", node, strings.Join(bad, ", "))
		}
		if !apiequality.Semantic.DeepEqual(obj.Spec.Taints, old.Spec.Taints) {
			return fmt.Errorf("node %q is not allowed to modify taints", node)
		}
		if !apiequality.Semantic.DeepEqual(obj.OwnerReferences, old.OwnerReferences) {
			return fmt.Errorf("node %q is not allowed to modify ownerReferences", node)
		}
	}
	return nil
}

// restrictedLabels lists the labels that differ between labels and old and that a
// node may not set itself, as Kubernetes' NodeRestriction has it: those under
// node-restriction.kubernetes.io/ (which administrators set so that workloads can
// be steered by labels a compromised node cannot claim), and any other
// kubernetes.io or k8s.io label outside the kubelet's own (hostname, os, arch,
// instance type, zone and region, kubelet.kubernetes.io/ and node.kubernetes.io/).
// A server's own node (controlPlane) may also mark itself a control-plane node.
func restrictedLabels(labels, old map[string]string, controlPlane bool) []string {
	var bad []string
	for k := range maps.Keys(labels) {
		if nv, ov, had := labels[k], old[k], hasKey(old, k); nodeMayNotSet(k, controlPlane) && (!had || nv != ov) {
			bad = append(bad, k)
		}
	}
	for k := range maps.Keys(old) {
		if nodeMayNotSet(k, controlPlane) && !hasKey(labels, k) {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	return bad
}

func nodeMayNotSet(label string, controlPlane bool) bool {
	ns, _, ok := strings.Cut(label, "/")
	if !ok || controlPlane && label == controlPlaneLabel {
		return false
	}
	if ns == nodeRestrictionNamespace || strings.HasSuffix(ns, "."+nodeRestrictionNamespace) {
		return true
	}
	reserved := ns == "kubernetes.io" || ns == "k8s.io" || strings.HasSuffix(ns, ".kubernetes.io") || strings.HasSuffix(ns, ".k8s.io")
	return reserved && !kubeletapis.IsKubeletLabel(label)
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// pinnedTo says whether pv is a volume a node's provisioner may make for itself: a
// local volume on the node, or a CSI volume whose one topology term has a segment
// naming the node (node-local drivers report the node as their topology).
func pinnedTo(pv *corev1.PersistentVolume, node string) bool {
	switch {
	case pv.Spec.Local != nil:
		return localVolumeNode(pv) == node
	case pv.Spec.CSI != nil && pv.Spec.NodeAffinity != nil && pv.Spec.NodeAffinity.Required != nil:
		terms := pv.Spec.NodeAffinity.Required.NodeSelectorTerms
		return len(terms) == 1 && slices.ContainsFunc(terms[0].MatchExpressions, func(e corev1.NodeSelectorRequirement) bool {
			return e.Operator == corev1.NodeSelectorOpIn && len(e.Values) == 1 && e.Values[0] == node
		})
	}
	return false
}

// localVolumeNode is the one node a volume's affinity names (kubernetes.io/hostname In
// [node], alone), or "".
func localVolumeNode(pv *corev1.PersistentVolume) string {
	na := pv.Spec.NodeAffinity
	if na == nil || na.Required == nil || len(na.Required.NodeSelectorTerms) != 1 {
		return ""
	}
	term := na.Required.NodeSelectorTerms[0]
	if len(term.MatchFields) != 0 || len(term.MatchExpressions) != 1 {
		return ""
	}
	e := term.MatchExpressions[0]
	if e.Key != corev1.LabelHostname || e.Operator != corev1.NodeSelectorOpIn || len(e.Values) != 1 {
		return ""
	}
	return e.Values[0]
}
