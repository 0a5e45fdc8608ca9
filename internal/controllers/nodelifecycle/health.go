package nodelifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// updateHealth marks the node's conditions Unknown when its heartbeats stopped for
// longer than the grace period: nothing on the node can be trusted to report anymore.
func (nc *Controller) updateHealth(ctx context.Context, node *corev1.Node, now time.Time) (*corev1.Node, error) {
	last := nc.lastHeartbeat(node, now)
	if now.Sub(last) <= nc.opts.GracePeriod {
		return node, nil
	}
	upd := node.DeepCopy()
	changed := false
	for _, t := range []corev1.NodeConditionType{corev1.NodeReady, corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		changed = markUnknown(upd, t, now) || changed
	}
	if !changed {
		return node, nil
	}
	out, err := nc.c.Client.CoreV1().Nodes().UpdateStatus(ctx, upd, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("mark node %s unknown: %w", node.Name, err)
	}
	slog.Info("node stopped posting status", "node", node.Name, "lastHeartbeat", last, "grace", nc.opts.GracePeriod)
	nc.recorder.Eventf(out, corev1.EventTypeNormal, "NodeNotReady", "Node %s stopped reporting and is now unreachable", node.Name)
	return out, nil
}

// markUnknown sets condition t to Unknown, reporting whether it changed.
func markUnknown(n *corev1.Node, t corev1.NodeConditionType, now time.Time) bool {
	c := condition(n, t)
	if c == nil {
		n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{
			Type: t, Status: corev1.ConditionUnknown, Reason: "NodeStatusNeverUpdated",
			Message: "The kubelet on this node has never posted its status.", LastHeartbeatTime: n.CreationTimestamp,
			LastTransitionTime: metav1.NewTime(now),
		})
		return true
	}
	if c.Status == corev1.ConditionUnknown {
		return false
	}
	c.Status, c.Reason, c.Message = corev1.ConditionUnknown, "NodeStatusUnknown", "The kubelet on this node stopped posting its status."
	c.LastTransitionTime = metav1.NewTime(now)
	return true
}

// updateTaints brings the taints this controller manages in line with the node's
// conditions.
func (nc *Controller) updateTaints(ctx context.Context, node *corev1.Node, now time.Time) (*corev1.Node, error) {
	taints, changed := ReconcileTaints(node.Spec.Taints, DesiredTaints(node), now)
	if !changed {
		return node, nil
	}
	upd := node.DeepCopy()
	upd.Spec.Taints = taints
	out, err := nc.c.Client.CoreV1().Nodes().Update(ctx, upd, metav1.UpdateOptions{})
	if err != nil {
		return nil, fmt.Errorf("taint node %s: %w", node.Name, err)
	}
	slog.Info("node taints updated", "node", node.Name, "taints", len(taints))
	return out, nil
}

func (nc *Controller) podsOn(node string) []*corev1.Pod {
	objs, _ := nc.podIndex.ByIndex(podNodeIndex, node)
	pods := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			pods = append(pods, p)
		}
	}
	return pods
}

// markPodsNotReady takes the pods of a node that is not ready out of service
// endpoints: their kubelet cannot be trusted to say so.
func (nc *Controller) markPodsNotReady(ctx context.Context, node *corev1.Node, now time.Time) error {
	for _, p := range nc.podsOn(node.Name) {
		i := slices.IndexFunc(p.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == corev1.PodReady })
		if i < 0 || p.Status.Conditions[i].Status != corev1.ConditionTrue {
			continue
		}
		upd := p.DeepCopy()
		c := &upd.Status.Conditions[i]
		c.Status, c.Reason, c.LastTransitionTime = corev1.ConditionFalse, "NodeNotReady", metav1.NewTime(now)
		_, err := nc.c.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("mark pod %s/%s not ready: %w", p.Namespace, p.Name, err)
		}
	}
	return nil
}

// evictPods deletes the node's pods whose tolerations of its NoExecute taints have run
// out, and comes back when the next one will.
func (nc *Controller) evictPods(ctx context.Context, node *corev1.Node, now time.Time) error {
	taints := noExecuteTaints(node)
	if len(taints) == 0 {
		return nil
	}
	var next time.Time
	for _, p := range nc.podsOn(node.Name) {
		if p.DeletionTimestamp != nil || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
			continue
		}
		at, ok := EvictionTime(p.Spec.Tolerations, taints, now)
		if !ok {
			continue
		}
		if at.After(now) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		}
		if err := nc.evict(ctx, p, now); err != nil {
			return err
		}
	}
	if !next.IsZero() {
		nc.ctl.Queue.AddAfter(node.Name, next.Sub(now))
	}
	return nil
}

func (nc *Controller) evict(ctx context.Context, p *corev1.Pod, now time.Time) error {
	upd := p.DeepCopy()
	upd.Status.Conditions = append(slices.DeleteFunc(upd.Status.Conditions, func(c corev1.PodCondition) bool {
		return c.Type == corev1.DisruptionTarget
	}), corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "DeletionByTaintManager", Message: "Evicted by the node lifecycle controller: the node has a NoExecute taint the pod no longer tolerates",
		LastTransitionTime: metav1.NewTime(now)})
	if _, err := nc.c.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		slog.Debug("could not mark pod disrupted", "pod", p.Namespace+"/"+p.Name, "err", err)
	}
	nc.recorder.Eventf(p, corev1.EventTypeNormal, "TaintManagerEviction", "Evicting pod %s/%s: its node has a NoExecute taint the pod no longer tolerates", p.Namespace, p.Name)
	err := nc.c.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(p.UID))})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("evict pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	slog.Info("evicted pod from tainted node", "pod", p.Namespace+"/"+p.Name, "node", p.Spec.NodeName)
	return nil
}
