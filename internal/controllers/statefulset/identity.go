package statefulset

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/controllers/workloads"
)

// Labels a StatefulSet puts on its pods.
const (
	podNameLabel  = appsv1.StatefulSetPodNameLabel
	podIndexLabel = appsv1.PodIndexLabel
	revisionLabel = appsv1.ControllerRevisionHashLabelKey
)

var kindStatefulSet = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// ordinalOf parses the ordinal from a pod name <set>-<n>; -1 if the name is not one.
func ordinalOf(set *appsv1.StatefulSet, name string) int {
	rest, ok := strings.CutPrefix(name, set.Name+"-")
	if !ok {
		return -1
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 || strconv.Itoa(n) != rest {
		return -1
	}
	return n
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

func replicas(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func podName(set *appsv1.StatefulSet, ordinal int) string {
	return fmt.Sprintf("%s-%d", set.Name, ordinal)
}

// claimName is the PVC of template claim for the pod with ordinal.
func claimName(set *appsv1.StatefulSet, claim string, ordinal int) string {
	return fmt.Sprintf("%s-%s-%d", claim, set.Name, ordinal)
}

// templateOf decodes the pod template stored in a revision's data.
func templateOf(rev *appsv1.ControllerRevision) (*corev1.PodTemplateSpec, error) {
	var patch struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(rev.Data.Raw, &patch); err != nil {
		return nil, fmt.Errorf("revision %s: %w", rev.Name, err)
	}
	return &patch.Spec.Template, nil
}

// newPod builds the pod for ordinal from tmpl at revision rev: its stable name and
// hostname, the headless service as subdomain, and a volume per claim template.
func newPod(set *appsv1.StatefulSet, tmpl *corev1.PodTemplateSpec, rev string, ordinal int) *corev1.Pod {
	pod := workloads.PodFromTemplate(tmpl, set, kindStatefulSet)
	pod.GenerateName = ""
	pod.Name = podName(set, ordinal)
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[podNameLabel] = pod.Name
	pod.Labels[podIndexLabel] = strconv.Itoa(ordinal)
	pod.Labels[revisionLabel] = rev
	pod.Spec.Hostname = pod.Name
	pod.Spec.Subdomain = set.Spec.ServiceName
	setStorage(set, pod, ordinal)
	return pod
}

// setStorage points the pod's volumes named after claim templates at its own PVCs.
func setStorage(set *appsv1.StatefulSet, pod *corev1.Pod, ordinal int) {
	claims := map[string]string{}
	for _, c := range set.Spec.VolumeClaimTemplates {
		claims[c.Name] = claimName(set, c.Name, ordinal)
	}
	var vols []corev1.Volume
	for _, v := range pod.Spec.Volumes {
		if _, ok := claims[v.Name]; !ok {
			vols = append(vols, v)
		}
	}
	for _, c := range set.Spec.VolumeClaimTemplates {
		vols = append(vols, corev1.Volume{Name: c.Name, VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: claims[c.Name]}}})
	}
	pod.Spec.Volumes = vols
}

// newClaims are the PVCs the pod with ordinal needs.
func newClaims(set *appsv1.StatefulSet, ordinal int) []*corev1.PersistentVolumeClaim {
	var out []*corev1.PersistentVolumeClaim
	sel, _ := metav1.LabelSelectorAsMap(set.Spec.Selector)
	for _, t := range set.Spec.VolumeClaimTemplates {
		c := t.DeepCopy()
		c.ObjectMeta = metav1.ObjectMeta{Name: claimName(set, t.Name, ordinal), Namespace: set.Namespace,
			Labels: t.Labels, Annotations: t.Annotations}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for k, v := range sel {
			c.Labels[k] = v
		}
		if deleteWithSet(set) {
			c.OwnerReferences = []metav1.OwnerReference{setClaimRef(set)}
		}
		c.Status = corev1.PersistentVolumeClaimStatus{}
		out = append(out, c)
	}
	return out
}

// identityMatches reports whether pod still carries the labels of its ordinal (a user
// may have removed them; the hostname cannot change).
func identityMatches(pod *corev1.Pod, ordinal int) bool {
	return pod.Labels[podNameLabel] == pod.Name && pod.Labels[podIndexLabel] == strconv.Itoa(ordinal)
}

// deleteWithSet: the set's claims go when the set goes (whenDeleted=Delete).
func deleteWithSet(set *appsv1.StatefulSet) bool {
	p := set.Spec.PersistentVolumeClaimRetentionPolicy
	return p != nil && p.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType
}

// setClaimRef makes a claim owned (but not controlled) by the set, so the garbage
// collector deletes it with the set.
func setClaimRef(set *appsv1.StatefulSet) metav1.OwnerReference {
	ref := workloads.NewControllerRef(set, kindStatefulSet)
	f := false
	ref.Controller = &f
	return *ref
}
