package kubelet

import (
	"context"
	"log/slog"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/kubelet/stats"
)

// evictionWait bounds how long the manager waits for an evicted pod's containers to
// go before it may pick another: evictions happen one at a time, so that freeing one
// pod's memory gets the chance to relieve the pressure.
const evictionWait = 30 * time.Second

// evictionManager turns stats into node pressure conditions and, under memory
// pressure, asks pod workers to evict pods one at a time.
type evictionManager struct {
	k          *Kubelet
	thresholds []EvictionThreshold
	// transition keeps a pressure condition on for this long after its signal was
	// last met, so that the condition does not flap around the threshold.
	transition time.Duration

	mu       sync.Mutex
	lastMet  map[corev1.NodeConditionType]time.Time
	pressure map[corev1.NodeConditionType]bool
	pending  types.UID // the pod being evicted
	since    time.Time
	// requests holds the eviction message per pod UID until its worker acts on it.
	requests sync.Map
}

func newEvictionManager(k *Kubelet, ts []EvictionThreshold, transition time.Duration) *evictionManager {
	return &evictionManager{k: k, thresholds: ts, transition: transition,
		lastMet: map[corev1.NodeConditionType]time.Time{}, pressure: map[corev1.NodeConditionType]bool{}}
}

// observe runs after every stats sample.
func (m *evictionManager) observe(ctx context.Context, s *stats.Summary) {
	obs := observe(s)
	met := thresholdsMet(m.thresholds, obs)
	m.mu.Lock()
	changed := updatePressure(m.lastMet, m.pressure, met, time.Now(), m.transition)
	m.mu.Unlock()
	for c, on := range changed {
		slog.Info("node pressure changed", "node", m.k.cfg.NodeName, "condition", c, "pressure", on)
	}
	if len(changed) > 0 {
		go func() {
			if err := m.k.syncNodeStatus(ctx, false); err != nil && ctx.Err() == nil {
				slog.Warn("updating node status after a pressure change failed", "err", err)
			}
		}()
	}
	for _, t := range met {
		if t.Signal == SignalMemoryAvailable {
			m.evictOne(t, obs[t.Signal], s)
		}
	}
}

// evictOne picks the next pod to evict for memory unless an eviction is still under way.
func (m *evictionManager) evictOne(t EvictionThreshold, o observation, s *stats.Summary) {
	byUID := map[string]*stats.PodStats{}
	for i := range s.Pods {
		byUID[s.Pods[i].PodRef.UID] = &s.Pods[i]
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, running := byUID[string(m.pending)]; running && time.Since(m.since) < evictionWait {
		return
	}
	var cands []evictionCandidate
	for uid, ps := range byUID {
		pod := m.k.getPod(ps.PodRef.Namespace, ps.PodRef.Name, types.UID(uid))
		if pod == nil || ps.Memory == nil || ps.Memory.WorkingSetBytes == nil {
			continue
		}
		cands = append(cands, evictionCandidate{Pod: pod, WorkingSet: int64(*ps.Memory.WorkingSetBytes)})
	}
	ranked := rankForMemoryEviction(cands)
	if len(ranked) == 0 {
		slog.Warn("memory pressure but no pod can be evicted", "node", m.k.cfg.NodeName, "threshold", t.String())
		return
	}
	pod := ranked[0].Pod
	msg := evictionMessage(t, o, pod, byUID[string(pod.UID)])
	slog.Info("evicting pod", "pod", pod.Namespace+"/"+pod.Name, "qos", qosClass(pod), "threshold", t.String(), "available", o.available)
	m.pending, m.since = pod.UID, time.Now()
	m.requests.Store(pod.UID, msg)
	m.k.metrics.evictions.WithLabelValues(t.Signal).Inc()
	m.k.pokeWorker(pod.UID)
}

// requestedFor returns the eviction message for a pod, "" if none was asked for.
func (m *evictionManager) requestedFor(uid types.UID) string {
	if m == nil {
		return ""
	}
	if v, ok := m.requests.Load(uid); ok {
		return v.(string)
	}
	return ""
}

// conditions are the node's pressure conditions as last observed.
func (m *evictionManager) conditions() []corev1.NodeCondition {
	on := map[corev1.NodeConditionType]bool{}
	if m != nil {
		m.mu.Lock()
		for c, v := range m.pressure {
			on[c] = v
		}
		m.mu.Unlock()
	}
	pick := func(t corev1.NodeConditionType, yesReason, yesMsg, noReason, noMsg string) corev1.NodeCondition {
		if on[t] {
			return corev1.NodeCondition{Type: t, Status: corev1.ConditionTrue, Reason: yesReason, Message: yesMsg}
		}
		return corev1.NodeCondition{Type: t, Status: corev1.ConditionFalse, Reason: noReason, Message: noMsg}
	}
	return []corev1.NodeCondition{
		pick(corev1.NodeMemoryPressure, "KubeletHasInsufficientMemory", "kubelet has insufficient memory available",
			"KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
		pick(corev1.NodeDiskPressure, "KubeletHasDiskPressure", "kubelet has disk pressure",
			"KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
		pick(corev1.NodePIDPressure, "KubeletHasInsufficientPID", "kubelet has insufficient PID available",
			"KubeletHasSufficientPID", "kubelet has sufficient PID available"),
	}
}

// evict kills the pod's containers at once (a hard threshold gives no grace) and
// marks it Failed with reason Evicted, as the kubelet does.
func (w *podWorker) evict(ctx context.Context, pod *corev1.Pod, rt *podRuntime, msg string) time.Duration {
	w.k.recorder.Event(pod, corev1.EventTypeWarning, "Evicted", msg)
	w.k.probes.forget(w.uid)
	w.stopAll(ctx, pod, rt, 0, "Killing")
	rt, err := w.k.runtime.podRuntime(ctx, w.uid)
	if err != nil {
		return time.Second
	}
	p := pod.DeepCopy()
	p.Status.Phase = corev1.PodFailed
	st := computeStatus(statusInput{Pod: p, Runtime: rt, Waiting: w.waiting, HostIPs: w.k.cfg.NodeIPs, Now: time.Now()})
	st.Reason, st.Message = "Evicted", msg
	st.Conditions = append(st.Conditions, corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "TerminationByKubelet", Message: msg, LastTransitionTime: metav1.NewTime(time.Now().Truncate(time.Second))})
	w.putStatus(ctx, pod, st)
	w.k.eviction.requests.Delete(w.uid)
	return 0
}
