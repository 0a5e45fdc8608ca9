package namespace

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// result is what one pass over a namespace's content found.
type result struct {
	remaining    map[string]int // resource -> objects left
	finalizers   map[string]int // finalizer -> objects it holds
	errs         []error        // deletions or lists that failed
	estimate     time.Duration  // longest grace period still running
	discoveryErr error
}

func (r *result) done() bool {
	return r.discoveryErr == nil && len(r.errs) == 0 && len(r.remaining) == 0
}

var podsGVR = corev1.SchemeGroupVersion.WithResource("pods")

// deleteContent deletes every object of every resource in ns and counts what is left.
// Pods go first and everything else only once they are gone, as in Kubernetes'
// ordered namespace deletion: a terminating pod may still need its ConfigMaps,
// Secrets and ServiceAccount token, and a policy object must not vanish while the
// pods it restricts still run.
func (s *syncer) deleteContent(ctx context.Context, ns string, resources []resource) *result {
	r := &result{remaining: map[string]int{}, finalizers: map[string]int{}}
	now := s.now()
	pods := slices.IndexFunc(resources, func(res resource) bool { return res.gvr == podsGVR })
	if pods >= 0 {
		if err := s.deleteAllOf(ctx, ns, resources[pods]); err != nil {
			r.errs = append(r.errs, err)
			return r
		}
		if s.countRemaining(ctx, ns, resources[pods], r, now); len(r.remaining) > 0 {
			return r
		}
	}
	for i, res := range resources {
		if i == pods {
			continue
		}
		if err := s.deleteAllOf(ctx, ns, res); err != nil {
			r.errs = append(r.errs, err)
			continue
		}
		s.countRemaining(ctx, ns, res, r, now)
	}
	return r
}

// deleteAllOf deletes the resource's objects, in one request when the server offers it.
// Background propagation lets the garbage collector take dependents in parallel.
func (s *syncer) deleteAllOf(ctx context.Context, ns string, res resource) error {
	bg := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &bg}
	client := s.md.Resource(res.gvr).Namespace(ns)
	if res.collection {
		err := client.DeleteCollection(ctx, opts, metav1.ListOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsMethodNotSupported(err) {
			return fmt.Errorf("delete all %s: %w", res.gvr.Resource, err)
		}
	}
	list, err := client.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", res.gvr.Resource, err)
	}
	for _, item := range list.Items {
		if item.DeletionTimestamp != nil {
			continue
		}
		if err := client.Delete(ctx, item.Name, opts); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete %s %s: %w", res.gvr.Resource, item.Name, err)
		}
	}
	return nil
}

func (s *syncer) countRemaining(ctx context.Context, ns string, res resource, r *result, now time.Time) {
	list, err := s.md.Resource(res.gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("list %s: %w", res.gvr.Resource, err))
		return
	}
	if len(list.Items) == 0 {
		return
	}
	name := res.gvr.GroupResource().String()
	r.remaining[name] += len(list.Items)
	for _, item := range list.Items {
		for _, f := range item.Finalizers {
			r.finalizers[f]++
		}
		// The deletion timestamp of a graceful deletion is when the grace runs out.
		if dt := item.DeletionTimestamp; dt != nil {
			r.estimate = max(r.estimate, dt.Sub(now))
		}
	}
}

// Conditions as Kubernetes reports them on a terminating namespace.
func (r *result) conditions() []corev1.NamespaceCondition {
	cond := func(t corev1.NamespaceConditionType, bad bool, badReason, goodReason, badMsg, goodMsg string) corev1.NamespaceCondition {
		if bad {
			return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionTrue, Reason: badReason, Message: badMsg}
		}
		return corev1.NamespaceCondition{Type: t, Status: corev1.ConditionFalse, Reason: goodReason, Message: goodMsg}
	}
	var discMsg string
	if r.discoveryErr != nil {
		discMsg = "Discovery failed for some groups: " + r.discoveryErr.Error()
	}
	return []corev1.NamespaceCondition{
		cond(corev1.NamespaceDeletionDiscoveryFailure, r.discoveryErr != nil, "DiscoveryFailed", "ResourcesDiscovered",
			discMsg, "Every resource type was discovered"),
		cond(corev1.NamespaceDeletionGVParsingFailure, false, "GroupVersionParsingFailed", "ParsedGroupVersions",
			"", "Every group version was parsed"),
		cond(corev1.NamespaceDeletionContentFailure, len(r.errs) > 0, "ContentDeletionFailed", "ContentDeleted",
			fmt.Sprintf("Deleting content failed for %d resource types: %s", len(r.errs), joinErrs(r.errs)),
			"All content was deleted; some may still be finalizing"),
		cond(corev1.NamespaceContentRemaining, len(r.remaining) > 0, "SomeResourcesRemain", "ContentRemoved",
			"Content remains: "+counts(r.remaining, "objects"), "All content is gone"),
		cond(corev1.NamespaceFinalizersRemaining, len(r.finalizers) > 0, "SomeFinalizersRemain", "ContentHasNoFinalizers",
			"Finalizers still hold content: "+counts(r.finalizers, "objects"),
			"No content is held by finalizers"),
	}
}

func joinErrs(errs []error) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, ", ")
}

// counts renders {"pods": 2} as "pods has 2 objects", sorted by name.
func counts(m map[string]int, what string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s has %d %s", k, m[k], what))
	}
	return strings.Join(parts, ", ")
}

// updateConditions writes the pass's conditions, keeping transition times of
// conditions whose status did not change.
func (s *syncer) updateConditions(ctx context.Context, ns *corev1.Namespace, r *result) error {
	want := r.conditions()
	now := metav1.NewTime(s.now())
	changed := false
	upd := ns.DeepCopy()
	for _, c := range want {
		i := slices.IndexFunc(upd.Status.Conditions, func(x corev1.NamespaceCondition) bool { return x.Type == c.Type })
		switch {
		case i < 0:
			c.LastTransitionTime = now
			upd.Status.Conditions = append(upd.Status.Conditions, c)
			changed = true
		case upd.Status.Conditions[i].Status != c.Status:
			c.LastTransitionTime = now
			upd.Status.Conditions[i] = c
			changed = true
		case upd.Status.Conditions[i].Reason != c.Reason || upd.Status.Conditions[i].Message != c.Message:
			c.LastTransitionTime = upd.Status.Conditions[i].LastTransitionTime
			upd.Status.Conditions[i] = c
			changed = true
		}
	}
	if !changed {
		return nil
	}
	_, err := s.c.Client.CoreV1().Namespaces().UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	return err
}
