package kubelet

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// statusInput is everything the pod status is computed from; computeStatus is pure.
type statusInput struct {
	Pod     *corev1.Pod
	Runtime *podRuntime
	// Waiting holds why a container is not running when the runtime cannot say:
	// ErrImagePull, CrashLoopBackOff, CreateContainerConfigError...
	Waiting map[string]corev1.ContainerStateWaiting
	// Ready reports a container's readiness (probes plug in here); nil: running means ready.
	Ready func(containerID string) bool
	// Started reports whether a running container's startup probe passed; nil: yes.
	Started func(containerID string) bool
	HostIPs []string
	Now     time.Time
}

// sec truncates to whole seconds, the precision the API keeps, so that a status
// computed twice from the same runtime state compares equal to the stored one.
func sec(t time.Time) metav1.Time { return metav1.NewTime(t.Truncate(time.Second)) }

func isSidecar(c *corev1.Container) bool {
	return c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways
}

func containerID(id string) string { return "containerd://" + id }

// containerStatus builds one container's status from its newest two runs.
func (in *statusInput) containerStatus(c *corev1.Container, defaultReason string) corev1.ContainerStatus {
	cur, prev := in.Runtime.latest(c.Name)
	st := corev1.ContainerStatus{Name: c.Name, Image: c.Image}
	if cur == nil {
		w, ok := in.Waiting[c.Name]
		if !ok {
			w = corev1.ContainerStateWaiting{Reason: defaultReason}
		}
		st.State.Waiting = &w
		return st
	}
	st.RestartCount = int32(cur.Attempt)
	st.ImageID = cur.ImageRef
	st.ContainerID = containerID(cur.ID)
	if prev != nil && prev.exited() {
		st.LastTerminationState.Terminated = terminated(prev)
	}
	switch {
	case cur.running():
		st.State.Running = &corev1.ContainerStateRunning{StartedAt: sec(cur.StartedAt)}
		started := in.Started == nil || in.Started(cur.ID)
		st.Started = &started
		st.Ready = started && (in.Ready == nil || in.Ready(cur.ID))
	case cur.exited():
		st.Started = new(bool)
		if w, ok := in.Waiting[c.Name]; ok {
			// Waiting for a restart: the run that ended is what lastState shows.
			st.State.Waiting = &w
			st.LastTerminationState.Terminated = terminated(cur)
		} else {
			st.State.Terminated = terminated(cur)
		}
	default:
		st.State.Waiting = &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}
	}
	return st
}

// terminated describes a finished run; the runtime's OOMKilled reason wins over the
// exit code, and a clean exit reads Completed as kubectl users expect.
func terminated(c *runtimeContainer) *corev1.ContainerStateTerminated {
	reason := "Error"
	switch {
	case c.Reason == "OOMKilled":
		reason = "OOMKilled"
	case c.ExitCode == 0:
		reason = "Completed"
	}
	return &corev1.ContainerStateTerminated{
		ExitCode: c.ExitCode, Reason: reason, Message: c.Message,
		StartedAt: sec(c.StartedAt), FinishedAt: sec(c.FinishedAt), ContainerID: containerID(c.ID),
	}
}

// initProgress reports whether every init container has done its part (regular ones
// exited 0, sidecars running), and whether one has failed for good.
func initProgress(pod *corev1.Pod, rt *podRuntime) (done, failed bool) {
	done = true
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cur, _ := rt.latest(c.Name)
		switch {
		case isSidecar(c):
			if cur == nil || (!cur.running() && !initRanBefore(pod, rt, i)) {
				done = false
			}
		case cur == nil || !cur.exited():
			done = false
		case cur.ExitCode != 0:
			done = false
			if pod.Spec.RestartPolicy == corev1.RestartPolicyNever {
				failed = true
			}
		}
	}
	return done, failed
}

// initRanBefore: once app containers have started, a sidecar that is restarting does
// not take the pod back to initializing.
func initRanBefore(pod *corev1.Pod, rt *podRuntime, _ int) bool {
	for i := range pod.Spec.Containers {
		if cur, _ := rt.latest(pod.Spec.Containers[i].Name); cur != nil {
			return true
		}
	}
	return false
}

// podPhase follows the Kubernetes rules: Pending until every app container has run,
// Running while one runs or will restart, Succeeded/Failed once all have ended for good.
func podPhase(pod *corev1.Pod, rt *podRuntime) corev1.PodPhase {
	if p := pod.Status.Phase; p == corev1.PodSucceeded || p == corev1.PodFailed {
		return p
	}
	initDone, initFailed := initProgress(pod, rt)
	if initFailed {
		return corev1.PodFailed
	}
	if !initDone {
		return corev1.PodPending
	}
	running, failed, succeeded := 0, 0, 0
	for i := range pod.Spec.Containers {
		cur, _ := rt.latest(pod.Spec.Containers[i].Name)
		switch {
		case cur == nil:
			return corev1.PodPending
		case cur.running(), cur.State == runtimeapi.ContainerState_CONTAINER_CREATED:
			running++
		case cur.ExitCode == 0:
			succeeded++
		default:
			failed++
		}
	}
	switch {
	case running > 0:
		return corev1.PodRunning
	case pod.Spec.RestartPolicy == corev1.RestartPolicyAlways || pod.Spec.RestartPolicy == "":
		return corev1.PodRunning
	case failed > 0 && pod.Spec.RestartPolicy == corev1.RestartPolicyOnFailure:
		return corev1.PodRunning
	case failed > 0:
		return corev1.PodFailed
	}
	_ = succeeded
	return corev1.PodSucceeded
}

// computeStatus derives the whole pod status.
func computeStatus(in statusInput) corev1.PodStatus {
	pod := in.Pod
	st := corev1.PodStatus{
		Phase:    podPhase(pod, in.Runtime),
		QOSClass: qosClass(pod),
		Reason:   pod.Status.Reason, Message: pod.Status.Message,
		NominatedNodeName: pod.Status.NominatedNodeName,
		StartTime:         pod.Status.StartTime,
		// The spec this status was computed from: clients wait for it to reach
		// metadata.generation to know an update has been acted on.
		ObservedGeneration: pod.Generation,
	}
	if st.StartTime == nil {
		t := sec(in.Now)
		st.StartTime = &t
	}
	sb := in.Runtime.sandbox()
	if sb != nil && !sb.Ready {
		sb = nil
	}
	setAddresses(&st, pod, sb, in.HostIPs)
	if sb == nil && (st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed) {
		// A finished pod keeps showing the address it had.
		st.PodIP, st.PodIPs = pod.Status.PodIP, pod.Status.PodIPs
	}
	initDone, _ := initProgress(pod, in.Runtime)
	appReason := "ContainerCreating"
	if !initDone {
		appReason = "PodInitializing"
	}
	for i := range pod.Spec.InitContainers {
		c := &pod.Spec.InitContainers[i]
		cs := in.containerStatus(c, "PodInitializing")
		if !isSidecar(c) {
			// An init container that has done its job is ready; it does not run again.
			cs.Ready = cs.State.Terminated != nil && cs.State.Terminated.ExitCode == 0
		}
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
	}
	for i := range pod.Spec.Containers {
		st.ContainerStatuses = append(st.ContainerStatuses, in.containerStatus(&pod.Spec.Containers[i], appReason))
	}
	for _, c := range ephemeralContainers(pod) {
		cs := in.containerStatus(c, "ContainerCreating")
		cs.Ready = false // ephemeral containers take no part in readiness
		st.EphemeralContainerStatuses = append(st.EphemeralContainerStatuses, cs)
	}
	st.Conditions = conditions(pod, &st, in.Runtime, initDone)
	return st
}

// setAddresses fills in the node's addresses and, given the pod's ready sandbox, the
// pod's own (a host-network pod has the node's).
func setAddresses(st *corev1.PodStatus, pod *corev1.Pod, sb *runtimeSandbox, hostIPs []string) {
	st.HostIP, st.HostIPs = "", nil
	for _, ip := range hostIPs {
		st.HostIPs = append(st.HostIPs, corev1.HostIP{IP: ip})
	}
	if len(hostIPs) > 0 {
		st.HostIP = hostIPs[0]
	}
	if sb == nil {
		return
	}
	ips := sb.IPs
	if pod.Spec.HostNetwork {
		ips = hostIPs
	}
	st.PodIP, st.PodIPs = "", nil
	for _, ip := range ips {
		st.PodIPs = append(st.PodIPs, corev1.PodIP{IP: ip})
	}
	if len(ips) > 0 {
		st.PodIP = ips[0]
	}
}

// withAddresses is pod with the addresses it is about to report, for what
// containers are started with before the status is written: downward-API env,
// /etc/hosts, httpGet hooks.
func withAddresses(pod *corev1.Pod, sb *runtimeSandbox, hostIPs []string) *corev1.Pod {
	p := pod.DeepCopy()
	setAddresses(&p.Status, pod, sb, hostIPs)
	return p
}

// conditions computes the kubelet-owned conditions and keeps the others (PodScheduled,
// readiness gates, DisruptionTarget) as they are; a transition time changes only when
// the status does.
func conditions(pod *corev1.Pod, st *corev1.PodStatus, rt *podRuntime, initDone bool) []corev1.PodCondition {
	sb := rt.sandbox()
	ready := sb != nil && sb.Ready && (len(sb.IPs) > 0 || pod.Spec.HostNetwork)
	var notReady []string
	for _, cs := range append(append([]corev1.ContainerStatus{}, st.ContainerStatuses...), sidecarStatuses(pod, st)...) {
		if !cs.Ready {
			notReady = append(notReady, cs.Name)
		}
	}
	terminal := st.Phase == corev1.PodSucceeded || st.Phase == corev1.PodFailed
	containersReady := cond(corev1.ContainersReady, len(notReady) == 0 && !terminal, "ContainersNotReady",
		fmt.Sprintf("containers with unready status: [%s]", strings.Join(notReady, " ")))
	podReady := containersReady
	podReady.Type = corev1.PodReady
	if terminal {
		containersReady.Reason, containersReady.Message = "PodCompleted", ""
		podReady.Reason, podReady.Message = "PodCompleted", ""
	}
	own := []corev1.PodCondition{
		cond(corev1.PodReadyToStartContainers, ready, "", ""),
		cond(corev1.PodInitialized, initDone, "ContainersNotInitialized", "containers with incomplete status: "+incompleteInits(pod, st)),
		containersReady, podReady,
	}
	if terminal && initDone {
		own[1].Reason, own[1].Message = "PodCompleted", ""
	}
	for i := range own {
		own[i].ObservedGeneration = pod.Generation
	}
	return mergeConditions(pod.Status.Conditions, own)
}

func sidecarStatuses(pod *corev1.Pod, st *corev1.PodStatus) []corev1.ContainerStatus {
	var out []corev1.ContainerStatus
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) && i < len(st.InitContainerStatuses) {
			out = append(out, st.InitContainerStatuses[i])
		}
	}
	return out
}

func incompleteInits(pod *corev1.Pod, st *corev1.PodStatus) string {
	var names []string
	for _, cs := range st.InitContainerStatuses {
		if cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 0 {
			names = append(names, cs.Name)
		}
	}
	return "[" + strings.Join(names, " ") + "]"
}

func cond(t corev1.PodConditionType, ok bool, reason, msg string) corev1.PodCondition {
	if ok {
		return corev1.PodCondition{Type: t, Status: corev1.ConditionTrue}
	}
	return corev1.PodCondition{Type: t, Status: corev1.ConditionFalse, Reason: reason, Message: msg}
}

func mergeConditions(old, own []corev1.PodCondition) []corev1.PodCondition {
	byType := map[corev1.PodConditionType]corev1.PodCondition{}
	for _, c := range old {
		byType[c.Type] = c
	}
	var out []corev1.PodCondition
	owned := map[corev1.PodConditionType]bool{}
	for _, c := range own {
		owned[c.Type] = true
		if prev, ok := byType[c.Type]; ok && prev.Status == c.Status {
			c.LastTransitionTime = prev.LastTransitionTime
		} else {
			c.LastTransitionTime = sec(time.Now())
		}
		out = append(out, c)
	}
	for _, c := range old {
		if !owned[c.Type] {
			out = append(out, c)
		}
	}
	// Where a kept PodScheduled goes too: in another place the next sync would
	// compute a different order and write the status again for nothing.
	if _, ok := byType[corev1.PodScheduled]; !ok {
		out = append(out, corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: sec(time.Now())})
	}
	return out
}
