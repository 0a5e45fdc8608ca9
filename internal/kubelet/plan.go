package kubelet

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// startAction is a container the worker should start now.
type startAction struct {
	Container *corev1.Container
	Init      bool
	Attempt   uint32
	Restart   bool // a previous run exited: counts against the restart backoff
}

// plan is what one sync should do to bring the runtime toward the spec. planPod is a
// pure function of the pod, the runtime state and the backoff, so the restart rules
// are tested without a runtime.
type plan struct {
	Start   []startAction
	Kill    []*runtimeContainer // running but no longer wanted (stale sandbox, unknown name)
	Waiting map[string]corev1.ContainerStateWaiting
	// BackOff lists containers newly held back, for the BackOff event.
	BackOff []string
	Requeue time.Duration // 0: nothing timed to wait for
	Failed  bool          // an init container failed and will not be retried
}

func (p *plan) wait(d time.Duration) {
	if d > 0 && (p.Requeue == 0 || d < p.Requeue) {
		p.Requeue = d
	}
}

func restartKey(pod *corev1.Pod, name string) string { return string(pod.UID) + "/" + name }

// nextAttempt numbers a new run one above the newest run of that name.
func nextAttempt(rt *podRuntime, name string) uint32 {
	if cur, _ := rt.latest(name); cur != nil {
		return cur.Attempt + 1
	}
	return 0
}

// shouldRestart applies a restart policy to an exited container.
func shouldRestart(policy corev1.RestartPolicy, exitCode int32) bool {
	switch policy {
	case corev1.RestartPolicyNever:
		return false
	case corev1.RestartPolicyOnFailure:
		return exitCode != 0
	}
	return true
}

func planPod(pod *corev1.Pod, rt *podRuntime, sandboxID string, bo *backoff, now time.Time) plan {
	p := plan{Waiting: map[string]corev1.ContainerStateWaiting{}}
	known := map[string]bool{}
	for _, c := range allContainers(pod) {
		known[c.Name] = true
	}
	for _, c := range ephemeralContainers(pod) {
		known[c.Name] = true
	}
	for i := range rt.Containers {
		c := &rt.Containers[i]
		if (c.running() || c.State == runtimeapi.ContainerState_CONTAINER_CREATED) && (c.SandboxID != sandboxID || !known[c.Name]) {
			p.Kill = append(p.Kill, c)
		}
	}
	if !planInit(pod, rt, sandboxID, bo, now, &p) {
		return p
	}
	for i := range pod.Spec.Containers {
		planContainer(pod, &pod.Spec.Containers[i], false, pod.Spec.RestartPolicy, rt, sandboxID, bo, now, &p)
	}
	// An ephemeral container runs once, when added; it is never restarted.
	for _, c := range ephemeralContainers(pod) {
		if len(rt.containers(c.Name)) == 0 {
			p.Start = append(p.Start, startAction{Container: c})
		}
	}
	return p
}

// ephemeralContainers are the pod's ephemeral containers as plain containers, the
// shape the runtime code works with.
func ephemeralContainers(pod *corev1.Pod) []*corev1.Container {
	out := make([]*corev1.Container, len(pod.Spec.EphemeralContainers))
	for i := range pod.Spec.EphemeralContainers {
		out[i] = (*corev1.Container)(&pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
	}
	return out
}

// planInit walks the init containers in order and reports whether all are done, so
// that app containers may start.
func planInit(pod *corev1.Pod, rt *podRuntime, sandboxID string, bo *backoff, now time.Time, p *plan) bool {
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cur := latestIn(rt, c.Name, sandboxID)
		if isSidecar(c) {
			// A sidecar starts, then the next init container goes; it restarts
			// whenever it exits, whatever the pod's policy.
			planContainer(pod, c, true, corev1.RestartPolicyAlways, rt, sandboxID, bo, now, p)
			continue
		}
		switch {
		case cur == nil:
			p.Start = append(p.Start, startAction{Container: c, Init: true, Attempt: nextAttempt(rt, c.Name)})
			return false
		case !cur.exited():
			return false
		case cur.ExitCode == 0:
			continue
		case pod.Spec.RestartPolicy == corev1.RestartPolicyNever:
			p.Failed = true
			return false
		default:
			planContainer(pod, c, true, corev1.RestartPolicyAlways, rt, sandboxID, bo, now, p)
			return false
		}
	}
	return true
}

// planContainer decides for one container: start it, restart it (after the backoff),
// or leave it.
func planContainer(pod *corev1.Pod, c *corev1.Container, init bool, policy corev1.RestartPolicy, rt *podRuntime, sandboxID string, bo *backoff, now time.Time, p *plan) {
	cur := latestIn(rt, c.Name, sandboxID)
	if cur == nil {
		p.Start = append(p.Start, startAction{Container: c, Init: init, Attempt: nextAttempt(rt, c.Name)})
		return
	}
	if !cur.exited() {
		return
	}
	if !shouldRestart(policy, cur.ExitCode) && (!cur.ProbeKilled || policy == corev1.RestartPolicyNever) {
		return
	}
	key := restartKey(pod, c.Name)
	if wait := bo.Wait(key, cur.FinishedAt, now); wait > 0 {
		p.Waiting[c.Name] = corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff",
			Message: fmt.Sprintf("back-off %s restarting failed container=%s pod=%s_%s(%s)",
				bo.Delay(key), c.Name, pod.Name, pod.Namespace, pod.UID)}
		p.BackOff = append(p.BackOff, c.Name)
		p.wait(wait)
		return
	}
	p.Start = append(p.Start, startAction{Container: c, Init: init, Attempt: cur.Attempt + 1, Restart: true})
}

// latestIn is the newest run of name in the given sandbox; runs in an older sandbox
// do not count (a new sandbox reruns everything).
func latestIn(rt *podRuntime, name, sandboxID string) *runtimeContainer {
	for _, c := range rt.containers(name) {
		if c.SandboxID == sandboxID {
			return c
		}
	}
	return nil
}
