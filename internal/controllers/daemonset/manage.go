package daemonset

import (
	"context"
	"errors"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"skiff/internal/controllers/workloads"
)

// plan is what one sync does: pods to create (by node) and pods to delete.
type plan struct {
	create []string
	delete []*corev1.Pod
}

// nodePlan decides for every node: a daemon where one belongs and is missing, none
// where it does not belong (or the node is gone), at most one per node, and failed
// daemons replaced.
func nodePlan(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) plan {
	var p plan
	seen := map[string]bool{}
	for _, n := range nodes {
		seen[n.Name] = true
		run, keep := placement(n, &ds.Spec.Template)
		var live []*corev1.Pod
		for _, pod := range byNode[n.Name] {
			switch {
			case pod.DeletionTimestamp != nil:
			case pod.Status.Phase == corev1.PodFailed || pod.Status.Phase == corev1.PodSucceeded:
				p.delete = append(p.delete, pod)
			default:
				live = append(live, pod)
			}
		}
		switch {
		case !keep:
			p.delete = append(p.delete, live...)
		case run && len(live) == 0 && !terminating(byNode[n.Name]):
			p.create = append(p.create, n.Name)
		case len(live) > 1:
			p.delete = append(p.delete, extras(live, hash)...)
		}
	}
	for node, pods := range byNode {
		if !seen[node] {
			for _, pod := range pods {
				if pod.DeletionTimestamp == nil {
					p.delete = append(p.delete, pod)
				}
			}
		}
	}
	return p
}

func terminating(pods []*corev1.Pod) bool {
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			return true
		}
	}
	return false
}

// extras are the daemons beyond one on a node. During a surge an old and a new pod may
// share a node; the rolling update removes the old one, so both stay here.
func extras(live []*corev1.Pod, hash string) []*corev1.Pod {
	var cur, old []*corev1.Pod
	for _, p := range live {
		if p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash {
			cur = append(cur, p)
		} else {
			old = append(old, p)
		}
	}
	oldestFirst := func(ps []*corev1.Pod) {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].CreationTimestamp.Before(&ps[j].CreationTimestamp) })
	}
	oldestFirst(cur)
	oldestFirst(old)
	if len(cur) > 0 {
		return append(cur[1:], old[min(len(old), 1):]...)
	}
	return old[1:]
}

// rollingPlan replaces daemons of old revisions. Without surge it deletes old pods
// while at most maxUnavailable nodes lack an available daemon; with surge it starts the
// new pod first and deletes the old one once the new one is available.
func rollingPlan(ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string, now metav1.Time) plan {
	var p plan
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		return p
	}
	var desired int
	for _, n := range nodes {
		if run, _ := placement(n, &ds.Spec.Template); run {
			desired++
		}
	}
	maxUnavailable, maxSurge := 1, 0
	if ru != nil {
		maxUnavailable = scaled(ru.MaxUnavailable, desired, 1)
		maxSurge = scaled(ru.MaxSurge, desired, 0)
	}
	if maxUnavailable == 0 && maxSurge == 0 {
		maxUnavailable = 1 // or nothing could ever be updated
	}
	unavailable, surging := 0, 0
	type pair struct{ old, cur *corev1.Pod }
	var toUpdate []pair
	for _, n := range nodes {
		if run, _ := placement(n, &ds.Spec.Template); !run {
			continue
		}
		var old, cur *corev1.Pod
		for _, pod := range byNode[n.Name] {
			if pod.DeletionTimestamp != nil || pod.Status.Phase == corev1.PodFailed {
				continue
			}
			if pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash {
				cur = pod
			} else {
				old = pod
			}
		}
		avail := (cur != nil && workloads.IsPodAvailable(cur, ds.Spec.MinReadySeconds, now.Time)) ||
			(old != nil && workloads.IsPodAvailable(old, ds.Spec.MinReadySeconds, now.Time))
		if !avail {
			unavailable++
		}
		if cur != nil && old != nil {
			surging++
		}
		if old != nil {
			toUpdate = append(toUpdate, pair{old, cur})
		}
	}
	for _, u := range toUpdate {
		oldAvail := workloads.IsPodAvailable(u.old, ds.Spec.MinReadySeconds, now.Time)
		switch {
		case u.cur != nil:
			if workloads.IsPodAvailable(u.cur, ds.Spec.MinReadySeconds, now.Time) {
				p.delete = append(p.delete, u.old)
			}
		case maxSurge > 0:
			if surging < maxSurge {
				node, _ := targetNode(u.old)
				p.create = append(p.create, node)
				surging++
			}
		case !oldAvail:
			p.delete = append(p.delete, u.old) // costs no availability
		case unavailable < maxUnavailable:
			p.delete = append(p.delete, u.old)
			unavailable++
		}
	}
	return p
}

func scaled(v *intstr.IntOrString, total, def int) int {
	if v == nil {
		return def
	}
	// Both round up: a percentage of a few nodes still lets the update move.
	n, err := intstr.GetScaledValueFromIntOrPercent(v, total, true)
	if err != nil {
		return def
	}
	return n
}

func (dc *dsController) manage(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []*corev1.Node,
	byNode map[string][]*corev1.Pod, hash string) error {
	p := nodePlan(ds, nodes, byNode, hash)
	if len(p.create) == 0 && len(p.delete) == 0 {
		p = rollingPlan(ds, nodes, byNode, hash, metav1.NewTime(dc.now()))
	}
	return errors.Join(dc.createPods(ctx, key, ds, p.create, hash), dc.deletePods(ctx, ds, p.delete))
}

func (dc *dsController) createPods(ctx context.Context, key string, ds *appsv1.DaemonSet, nodes []string, hash string) error {
	if len(nodes) == 0 {
		return nil
	}
	dc.exp.ExpectCreations(key, len(nodes))
	done, err := workloads.SlowStartBatch(len(nodes), 1, func(i int) error {
		pod, err := dc.client.CoreV1().Pods(ds.Namespace).Create(ctx, newDaemonPod(ds, nodes[i], hash), metav1.CreateOptions{})
		if err != nil {
			dc.rec.Eventf(ds, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		dc.rec.Eventf(ds, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
		return nil
	})
	// Failed and unattempted creations will never be observed.
	for i := done; i < len(nodes); i++ {
		dc.exp.CreationObserved(key)
	}
	return err
}

func (dc *dsController) deletePods(ctx context.Context, ds *appsv1.DaemonSet, pods []*corev1.Pod) error {
	var errs []error
	for _, pod := range pods {
		if pod.Status.Phase == corev1.PodFailed {
			dc.rec.Eventf(ds, corev1.EventTypeWarning, "FailedDaemonPod", "Found failed daemon pod %s/%s on node %s, will try to kill it",
				pod.Namespace, pod.Name, pod.Spec.NodeName)
		}
		err := dc.client.CoreV1().Pods(ds.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		switch {
		case err == nil:
			dc.rec.Eventf(ds, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", pod.Name)
		case !apierrors.IsNotFound(err) && !apierrors.IsConflict(err):
			dc.rec.Eventf(ds, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (dc *dsController) writeStatus(ctx context.Context, ds *appsv1.DaemonSet, nodes []*corev1.Node, byNode map[string][]*corev1.Pod, hash string) error {
	st := appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, CollisionCount: ds.Status.CollisionCount,
		Conditions: ds.Status.Conditions}
	now := dc.now()
	for _, n := range nodes {
		run, keep := placement(n, &ds.Spec.Template)
		var pod *corev1.Pod
		for _, p := range byNode[n.Name] {
			if p.DeletionTimestamp == nil && (pod == nil || p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash) {
				pod = p
			}
		}
		if run {
			st.DesiredNumberScheduled++
		}
		switch {
		case pod == nil:
		case !run && !keep:
			st.NumberMisscheduled++
		case run:
			st.CurrentNumberScheduled++
			if workloads.IsPodReady(pod) {
				st.NumberReady++
			}
			if workloads.IsPodAvailable(pod, ds.Spec.MinReadySeconds, now) {
				st.NumberAvailable++
			}
			if pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] == hash {
				st.UpdatedNumberScheduled++
			}
		}
	}
	st.NumberUnavailable = max(st.DesiredNumberScheduled-st.NumberAvailable, 0)
	if equality.Semantic.DeepEqual(st, ds.Status) {
		return nil
	}
	ds.Status = st
	_, err := dc.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, ds, metav1.UpdateOptions{})
	return err
}
