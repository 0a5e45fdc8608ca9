// Package workloads holds what the workload controllers (ReplicaSet, Deployment,
// StatefulSet, DaemonSet, Job) share: pods from templates, pod state, owner
// references, adoption, creation expectations and ControllerRevisions.
package workloads

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/rand"
)

// NewControllerRef is the owner reference a controller puts on what it creates:
// controller=true so only one controller acts on the object, and blockOwnerDeletion so
// that a foreground delete of the owner waits for it.
func NewControllerRef(owner metav1.Object, gvk schema.GroupVersionKind) *metav1.OwnerReference {
	t := true
	return &metav1.OwnerReference{
		APIVersion:         gvk.GroupVersion().String(),
		Kind:               gvk.Kind,
		Name:               owner.GetName(),
		UID:                owner.GetUID(),
		Controller:         &t,
		BlockOwnerDeletion: &t,
	}
}

// PodFromTemplate builds the pod a controller creates from its template. The name is
// generated from owner's name unless the caller sets one.
func PodFromTemplate(t *corev1.PodTemplateSpec, owner metav1.Object, gvk schema.GroupVersionKind) *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    owner.GetName() + "-",
			Namespace:       owner.GetNamespace(),
			Labels:          copyMap(t.Labels),
			Annotations:     copyMap(t.Annotations),
			Finalizers:      append([]string(nil), t.Finalizers...),
			OwnerReferences: []metav1.OwnerReference{*NewControllerRef(owner, gvk)},
		},
	}
	t.Spec.DeepCopyInto(&pod.Spec)
	return pod
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// IsPodActive reports whether pod counts towards a controller's replicas: not finished
// and not on its way out.
func IsPodActive(p *corev1.Pod) bool {
	return p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed &&
		p.DeletionTimestamp == nil
}

// IsPodTerminating reports whether pod is being deleted but not finished.
func IsPodTerminating(p *corev1.Pod) bool {
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && p.Status.Phase != corev1.PodFailed
}

// PodReadyCondition returns pod's Ready condition, or nil.
func PodReadyCondition(p *corev1.Pod) *corev1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == corev1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady reports whether pod's Ready condition is True.
func IsPodReady(p *corev1.Pod) bool {
	c := PodReadyCondition(p)
	return c != nil && c.Status == corev1.ConditionTrue
}

// IsPodAvailable reports whether pod has been ready for at least minReadySeconds at now.
func IsPodAvailable(p *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	c := PodReadyCondition(p)
	if c == nil || c.Status != corev1.ConditionTrue {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	d := time.Duration(minReadySeconds) * time.Second
	return !c.LastTransitionTime.IsZero() && !c.LastTransitionTime.Add(d).After(now)
}

// IsPodRunningAndReady is what OrderedReady waits for.
func IsPodRunningAndReady(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodRunning && IsPodReady(p)
}

// HashObject returns a short, name-safe hash of obj's JSON and collisionCount. Two
// templates hash alike only when their JSON is equal; collisionCount lets a controller
// step past a name taken by something else.
func HashObject(obj any, collisionCount *int32) string {
	h := fnv.New32a()
	b, err := json.Marshal(obj)
	if err != nil {
		panic(fmt.Sprintf("hash %T: %v", obj, err)) // API types always marshal
	}
	h.Write(b)
	if collisionCount != nil {
		fmt.Fprintf(h, "/%d", *collisionCount)
	}
	return rand.SafeEncodeString(fmt.Sprint(h.Sum32()))
}
