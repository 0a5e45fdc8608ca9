package kubelet

import (
	"context"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// runtimeCheckEvery is how often the kubelet asks the runtime whether it answers:
// a dead runtime shows on the Node within this and one status write.
const runtimeCheckEvery = 2 * time.Second

// watchRuntime keeps the node's Ready condition in step with the runtime: while
// the CRI endpoint does not answer, the node is Ready=False with the reason, and
// each change is an event on the Node. The agent restarts a containerd it runs
// itself; an external runtime is its operator's to restart.
func (k *Kubelet) watchRuntime(ctx context.Context) {
	node := &corev1.ObjectReference{Kind: "Node", Name: k.cfg.NodeName, UID: types.UID(k.cfg.NodeName)}
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(runtimeCheckEvery):
		case <-k.runtimeNudge:
		}
		cctx, cancel := context.WithTimeout(ctx, runtimeCheckEvery)
		_, err := k.rt.Runtime.Version(cctx, &runtimeapi.VersionRequest{})
		cancel()
		if ctx.Err() != nil {
			return
		}
		was := k.runtimeDown.Load()
		switch {
		case err != nil && was == nil:
			msg := "container runtime is down: " + err.Error()
			k.runtimeDown.Store(&msg)
			slog.Error("container runtime is down; the node reports NotReady", "node", k.cfg.NodeName, "err", err)
			k.recorder.Event(node, corev1.EventTypeWarning, "ContainerRuntimeUnhealthy", msg)
		case err == nil && was != nil:
			k.runtimeDown.Store(nil)
			slog.Info("container runtime is back", "node", k.cfg.NodeName)
			k.recorder.Event(node, corev1.EventTypeNormal, "ContainerRuntimeHealthy", "container runtime answers again")
		default:
			continue
		}
		if err := k.syncNodeStatus(ctx, true); err != nil && ctx.Err() == nil {
			slog.Warn("updating node status failed", "node", k.cfg.NodeName, "err", err)
		}
	}
}

// runtimeCondition is the Ready condition while the runtime is down, or nil.
func (k *Kubelet) runtimeCondition() *corev1.NodeCondition {
	msg := k.runtimeDown.Load()
	if msg == nil {
		return nil
	}
	return &corev1.NodeCondition{Type: corev1.NodeReady, Status: corev1.ConditionFalse, Reason: "ContainerRuntimeUnhealthy", Message: *msg}
}

// CheckRuntimeNow makes the kubelet look at the runtime at once, rather than at
// its next periodic check: the agent calls it when its containerd exits, so the
// node turns NotReady even when the restart is quicker than the check.
func (k *Kubelet) CheckRuntimeNow() {
	select {
	case k.runtimeNudge <- struct{}{}:
	default:
	}
}
