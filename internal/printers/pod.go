package printers

import (
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// nodeUnreachablePodReason is the status.reason the node lifecycle controller sets
// on pods of a node that stopped reporting.
const nodeUnreachablePodReason = "NodeLost"

func addPods(m map[schema.GroupKind]*Printer) {
	podStatusDoc := corev1.PodStatus{}.SwaggerDoc()
	podSpecDoc := corev1.PodSpec{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Ready", typeString, "Ready containers out of all long-running containers."),
		col("Status", typeString, "One word for the state of the pod and its containers."),
		col("Restarts", typeString, "Container restarts, and how long ago the last one was."),
		ageColumn(),
		wide("IP", typeString, podStatusDoc["podIP"]),
		wide("Node", typeString, podSpecDoc["nodeName"]),
		wide("Nominated Node", typeString, podStatusDoc["nominatedNodeName"]),
		wide("Readiness Gates", typeString, podSpecDoc["readinessGates"]),
	}, podRow), "", "Pod")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Containers", typeString, "Container names of the pod template."),
		col("Images", typeString, "Container images of the pod template."),
		col("Pod Labels", typeString, "Labels of the pod template."),
	}, func(t *corev1.PodTemplate, _ time.Time) []interface{} {
		names, images := containerCells(t.Template.Spec.Containers)
		return []interface{}{t.Name, names, images, labels.FormatLabels(t.Template.Labels)}
	}), "", "PodTemplate")
}

func podRow(pod *corev1.Pod, now time.Time) []interface{} {
	s := summarizePod(pod)
	restarts := strconv.Itoa(s.restarts)
	if s.restarts != 0 && !s.lastRestart.IsZero() {
		restarts = fmt.Sprintf("%d (%s ago)", s.restarts, age(now, s.lastRestart))
	}

	// Older objects may carry only the singular podIP; the plural list is what
	// Kubernetes reads, and holds the same address first.
	ip := pod.Status.PodIP
	if len(pod.Status.PodIPs) > 0 {
		ip = pod.Status.PodIPs[0].IP
	}
	gates := none
	if n := len(pod.Spec.ReadinessGates); n > 0 {
		gates = fmt.Sprintf("%d/%d", readinessGatesTrue(pod), n)
	}
	return []interface{}{
		pod.Name,
		fmt.Sprintf("%d/%d", s.ready, s.total),
		s.reason,
		restarts,
		age(now, pod.CreationTimestamp),
		orElse(ip, none),
		orElse(pod.Spec.NodeName, none),
		orElse(pod.Status.NominatedNodeName, none),
		gates,
	}
}

// podSummary is what the READY, STATUS and RESTARTS cells are made of.
type podSummary struct {
	ready, total int
	reason       string
	restarts     int
	lastRestart  metav1.Time
}

// summarizePod reduces a pod's phase, conditions and container states to the single
// word users read in STATUS. The precedence matters and mirrors Kubernetes: the pod
// phase (or its status.reason, e.g. Evicted), then scheduling gates, then the first
// init container that has not finished, then the app containers (the first one in
// spec order with a waiting or terminated reason wins), and finally deletion.
func summarizePod(pod *corev1.Pod) podSummary {
	s := podSummary{
		total:  len(pod.Spec.Containers),
		reason: string(pod.Status.Phase),
	}
	if pod.Status.Reason != "" {
		s.reason = pod.Status.Reason
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Reason == corev1.PodReasonSchedulingGated {
			s.reason = corev1.PodReasonSchedulingGated
		}
	}

	// Native sidecars (init containers that restart Always) keep running next to
	// the app containers, so they count towards READY and, once the pod is
	// initialised, towards RESTARTS.
	sidecars := map[string]bool{}
	for _, c := range pod.Spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			sidecars[c.Name] = true
			s.total++
		}
	}

	initializing, sidecarRestarts, sidecarLast := summarizeInit(pod, sidecars, &s)
	if initializing && !podConditionTrue(pod.Status.Conditions, corev1.PodInitialized) {
		return finishPod(pod, s)
	}

	// Past initialisation only sidecar restarts still matter, not those of init
	// containers that ran to completion.
	s.restarts, s.lastRestart = sidecarRestarts, sidecarLast
	running := false
	// Walk backwards so that the first container in spec order has the last word.
	for i := len(pod.Status.ContainerStatuses) - 1; i >= 0; i-- {
		c := pod.Status.ContainerStatuses[i]
		s.restarts += int(c.RestartCount)
		s.lastRestart = later(s.lastRestart, c.LastTerminationState.Terminated)
		switch {
		case c.State.Waiting != nil && c.State.Waiting.Reason != "":
			s.reason = c.State.Waiting.Reason
		case c.State.Terminated != nil && c.State.Terminated.Reason != "":
			s.reason = c.State.Terminated.Reason
		case c.State.Terminated != nil:
			s.reason = exitReason("", c.State.Terminated)
		case c.Ready && c.State.Running != nil:
			running = true
			s.ready++
		}
	}
	// One container completed but another still runs: the pod as a whole is running.
	if s.reason == "Completed" && running {
		if podConditionTrue(pod.Status.Conditions, corev1.PodReady) {
			s.reason = "Running"
		} else {
			s.reason = "NotReady"
		}
	}
	return finishPod(pod, s)
}

// summarizeInit walks the init containers in order up to the first one that has not
// succeeded, and reports whether the pod is still initialising. Restarts of every
// init container seen are added to s; those of sidecars are also returned apart.
func summarizeInit(pod *corev1.Pod, sidecars map[string]bool, s *podSummary) (initializing bool, sidecarRestarts int, sidecarLast metav1.Time) {
	for i, c := range pod.Status.InitContainerStatuses {
		s.restarts += int(c.RestartCount)
		s.lastRestart = later(s.lastRestart, c.LastTerminationState.Terminated)
		sidecar := sidecars[c.Name]
		if sidecar {
			sidecarRestarts += int(c.RestartCount)
			sidecarLast = later(sidecarLast, c.LastTerminationState.Terminated)
		}
		switch {
		case c.State.Terminated != nil && c.State.Terminated.ExitCode == 0:
			continue // finished; look at the next one
		case sidecar && c.Started != nil && *c.Started:
			if c.Ready {
				s.ready++
			}
			continue // a started sidecar lets the next init container run
		case c.State.Terminated != nil:
			s.reason = exitReason("Init:", c.State.Terminated)
		case c.State.Waiting != nil && c.State.Waiting.Reason != "" && c.State.Waiting.Reason != "PodInitializing":
			s.reason = "Init:" + c.State.Waiting.Reason
		default:
			s.reason = fmt.Sprintf("Init:%d/%d", i, len(pod.Spec.InitContainers))
		}
		return true, sidecarRestarts, sidecarLast
	}
	return false, sidecarRestarts, sidecarLast
}

// finishPod applies what deletion does to STATUS: a pod being deleted shows
// Terminating until it has finished, unless its node is unreachable, in which case
// nobody knows what it is doing.
func finishPod(pod *corev1.Pod, s podSummary) podSummary {
	if pod.DeletionTimestamp == nil {
		return s
	}
	switch {
	case pod.Status.Reason == nodeUnreachablePodReason:
		s.reason = "Unknown"
	case pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed:
		s.reason = "Terminating"
	}
	return s
}

// exitReason names a termination without a reason by its signal or exit code.
func exitReason(prefix string, t *corev1.ContainerStateTerminated) string {
	switch {
	case t.Reason != "":
		return prefix + t.Reason
	case t.Signal != 0:
		return fmt.Sprintf("%sSignal:%d", prefix, t.Signal)
	default:
		return fmt.Sprintf("%sExitCode:%d", prefix, t.ExitCode)
	}
}

// later returns the later of t and the end of a previous termination, if any.
func later(t metav1.Time, last *corev1.ContainerStateTerminated) metav1.Time {
	if last != nil && t.Before(&last.FinishedAt) {
		return last.FinishedAt
	}
	return t
}

func podConditionTrue(conds []corev1.PodCondition, t corev1.PodConditionType) bool {
	for _, c := range conds {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

// readinessGatesTrue counts the readiness gates whose condition is True; only the
// first condition of each type counts, as Kubernetes reads it.
func readinessGatesTrue(pod *corev1.Pod) int {
	n := 0
	for _, g := range pod.Spec.ReadinessGates {
		for _, c := range pod.Status.Conditions {
			if c.Type == g.ConditionType {
				if c.Status == corev1.ConditionTrue {
					n++
				}
				break
			}
		}
	}
	return n
}
