package workloads

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
)

// RevisionHashLabel is the label every ControllerRevision carries with its hash.
const RevisionHashLabel = "controller.kubernetes.io/hash"

// TemplatePatch is the ControllerRevision data for a StatefulSet or DaemonSet: a
// strategic merge patch that replaces spec.template. kubectl rollout undo applies this
// data to the owner as it is, so the shape is an API contract.
func TemplatePatch(t *corev1.PodTemplateSpec) (runtime.RawExtension, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return runtime.RawExtension{}, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return runtime.RawExtension{}, err
	}
	m["$patch"] = "replace"
	raw, err := json.Marshal(map[string]any{"spec": map[string]any{"template": m}})
	return runtime.RawExtension{Raw: raw}, err
}

// NewRevision builds the ControllerRevision of owner with data and number revision.
// Its name is <owner>-<hash>; collisionCount moves the hash past a taken name.
func NewRevision(owner metav1.Object, gvk schema.GroupVersionKind, podLabels map[string]string,
	data runtime.RawExtension, revision int64, collisionCount *int32) *appsv1.ControllerRevision {
	hash := HashObject(json.RawMessage(data.Raw), collisionCount)
	labels := copyMap(podLabels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[RevisionHashLabel] = hash
	return &appsv1.ControllerRevision{
		ObjectMeta: metav1.ObjectMeta{
			Name:            owner.GetName() + "-" + hash,
			Namespace:       owner.GetNamespace(),
			Labels:          labels,
			Annotations:     copyMap(owner.GetAnnotations()),
			OwnerReferences: []metav1.OwnerReference{*NewControllerRef(owner, gvk)},
		},
		Data:     data,
		Revision: revision,
	}
}

// SortRevisions orders revs oldest first.
func SortRevisions(revs []*appsv1.ControllerRevision) {
	sort.SliceStable(revs, func(i, j int) bool {
		if revs[i].Revision != revs[j].Revision {
			return revs[i].Revision < revs[j].Revision
		}
		return revs[i].Name < revs[j].Name
	})
}

// NextRevisionNumber is one past the highest of revs.
func NextRevisionNumber(revs []*appsv1.ControllerRevision) int64 {
	var n int64
	for _, r := range revs {
		n = max(n, r.Revision)
	}
	return n + 1
}

// equalData compares revision data as JSON values, so formatting does not matter.
func equalData(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

// ErrHashCollision means a revision's name is taken by different data: the owner must
// bump its status.collisionCount and try again.
var ErrHashCollision = fmt.Errorf("controller revision hash collision")

// EnsureRevision returns the revision of revs (oldest first) holding want's data,
// making it the newest by renumbering, or creates want. A rollback to an old template
// thus reuses its revision under a new number, as kubectl rollout history expects.
func EnsureRevision(ctx context.Context, client kubernetes.Interface, revs []*appsv1.ControllerRevision,
	want *appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	for i := len(revs) - 1; i >= 0; i-- {
		r := revs[i]
		if !equalData(r.Data.Raw, want.Data.Raw) {
			continue
		}
		if i == len(revs)-1 {
			return r, nil
		}
		r = r.DeepCopy()
		r.Revision = want.Revision
		return client.AppsV1().ControllerRevisions(r.Namespace).Update(ctx, r, metav1.UpdateOptions{})
	}
	created, err := client.AppsV1().ControllerRevisions(want.Namespace).Create(ctx, want, metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		return created, err
	}
	live, gerr := client.AppsV1().ControllerRevisions(want.Namespace).Get(ctx, want.Name, metav1.GetOptions{})
	if gerr != nil {
		return nil, gerr
	}
	ref, wantRef := metav1.GetControllerOf(live), metav1.GetControllerOf(want)
	if ref != nil && ref.UID == wantRef.UID && equalData(live.Data.Raw, want.Data.Raw) {
		return live, nil // our cache was behind
	}
	return nil, ErrHashCollision
}

// TruncateHistory deletes the oldest revisions of revs (oldest first) that are not in
// live, keeping at most limit of them.
func TruncateHistory(ctx context.Context, client kubernetes.Interface, revs []*appsv1.ControllerRevision,
	live map[string]bool, limit int32) error {
	var old []*appsv1.ControllerRevision
	for _, r := range revs {
		if !live[r.Name] {
			old = append(old, r)
		}
	}
	excess := len(old) - int(max(limit, 0))
	for i := 0; i < excess; i++ {
		err := client.AppsV1().ControllerRevisions(old[i].Namespace).Delete(ctx, old[i].Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
