package kubelet

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	resourcehelper "k8s.io/component-helpers/resource"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// In-place pod resize: when a pod's CPU or memory changes through pods/resize, the
// worker gives each running container its new values through CRI
// UpdateContainerResources (the cgroup limits change, the process keeps running), or
// restarts it when its resizePolicy asks for that, and reports what each container
// now has in status.containerStatuses[].resources and allocatedResources.

// resizeTracker remembers, per pod, what CPU and memory the runtime last gave each
// container (by container ID), and the pod's resize condition. The runtime does not
// report a container's resources back, so this is the kubelet's own record; after an
// agent restart each running container is given its spec's values once more.
type resizeTracker struct {
	mu   sync.Mutex
	pods map[types.UID]*podResize
}

type podResize struct {
	applied map[string]corev1.ResourceRequirements
	// cond is PodResizePending or PodResizeInProgress while a resize is not done.
	cond *corev1.PodCondition
}

func newResizeTracker() *resizeTracker { return &resizeTracker{pods: map[types.UID]*podResize{}} }

// pod returns uid's record; only that pod's worker uses it, so its contents need
// no lock.
func (t *resizeTracker) pod(uid types.UID) *podResize {
	t.mu.Lock()
	defer t.mu.Unlock()
	pr := t.pods[uid]
	if pr == nil {
		pr = &podResize{applied: map[string]corev1.ResourceRequirements{}}
		t.pods[uid] = pr
	}
	return pr
}

// created records what a new container was given at creation.
func (t *resizeTracker) created(uid types.UID, id string, c *corev1.Container) {
	t.pod(uid).applied[id] = cpuMemory(c.Resources)
}

func (t *resizeTracker) forget(uid types.UID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pods, uid)
}

// resizable lists the containers whose resources can change in place: app
// containers and sidecars.
func resizable(pod *corev1.Pod) []*corev1.Container {
	var out []*corev1.Container
	for i := range pod.Spec.InitContainers {
		if isSidecar(&pod.Spec.InitContainers[i]) {
			out = append(out, &pod.Spec.InitContainers[i])
		}
	}
	for i := range pod.Spec.Containers {
		out = append(out, &pod.Spec.Containers[i])
	}
	return out
}

// cpuMemory keeps the CPU and memory of r: the resources a resize can change.
func cpuMemory(r corev1.ResourceRequirements) corev1.ResourceRequirements {
	pick := func(l corev1.ResourceList) corev1.ResourceList {
		var out corev1.ResourceList
		for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if q, ok := l[n]; ok {
				if out == nil {
					out = corev1.ResourceList{}
				}
				out[n] = q
			}
		}
		return out
	}
	return corev1.ResourceRequirements{Requests: pick(r.Requests), Limits: pick(r.Limits)}
}

// restartOnResize reports whether going from applied to c's resources changes a
// resource whose resizePolicy is RestartContainer.
func restartOnResize(c *corev1.Container, applied corev1.ResourceRequirements) bool {
	for _, p := range c.ResizePolicy {
		if p.RestartPolicy != corev1.RestartContainer {
			continue
		}
		for _, pair := range [][2]corev1.ResourceList{{c.Resources.Requests, applied.Requests}, {c.Resources.Limits, applied.Limits}} {
			a, aok := pair[0][p.ResourceName]
			b, bok := pair[1][p.ResourceName]
			if aok != bok || a.Cmp(b) != 0 {
				return true
			}
		}
	}
	return false
}

// resizeFits decides whether the node can give pod (at its new size) what it asks,
// next to the other pods on the node (counted at the larger of what they were given
// and what they ask). It returns "" when it fits, Infeasible when the node could
// never hold it, Deferred when it could once others shrink or leave.
func resizeFits(pod *corev1.Pod, others []*corev1.Pod, allocatable corev1.ResourceList) (reason, msg string) {
	want := resourcehelper.PodRequests(pod, resourcehelper.PodResourcesOptions{})
	used := corev1.ResourceList{}
	for _, o := range others {
		for n, q := range resourcehelper.PodRequests(o, resourcehelper.PodResourcesOptions{UseStatusResources: true}) {
			v := used[n]
			v.Add(q)
			used[n] = v
		}
	}
	var short, over []string
	for _, n := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		alloc, ok := allocatable[n]
		w := want[n]
		if !ok {
			continue
		}
		if w.Cmp(alloc) > 0 {
			over = append(over, fmt.Sprintf("%s, requested: %s, capacity: %s", n, w.String(), alloc.String()))
			continue
		}
		total := used[n].DeepCopy()
		total.Add(w)
		if total.Cmp(alloc) > 0 {
			short = append(short, string(n))
		}
	}
	switch {
	case len(over) > 0:
		return corev1.PodReasonInfeasible, "Node didn't have enough capacity: " + strings.Join(over, "; ")
	case len(short) > 0:
		return corev1.PodReasonDeferred, "Node didn't have enough resource: " + strings.Join(short, ", ")
	}
	return "", ""
}

// resize brings the running containers to their spec's CPU and memory. It returns
// the pod's runtime view, read again when a container was stopped to be restarted,
// or nil when that read failed.
func (w *podWorker) resize(ctx context.Context, pod *corev1.Pod, rt *podRuntime) *podRuntime {
	pr := w.k.resizes.pod(w.uid)
	live := map[string]bool{}
	type change struct {
		spec *corev1.Container
		run  *runtimeContainer
	}
	var changes []change
	for _, c := range resizable(pod) {
		cur, _ := rt.latest(c.Name)
		if cur == nil || !cur.running() {
			continue
		}
		live[cur.ID] = true
		applied, known := pr.applied[cur.ID]
		switch {
		case !known:
			// Created before this agent started: (re)assert the spec's values.
			if w.updateResources(ctx, pod, c, cur.ID) == nil {
				pr.applied[cur.ID] = cpuMemory(c.Resources)
			}
		case !equality.Semantic.DeepEqual(applied, cpuMemory(c.Resources)):
			changes = append(changes, change{c, cur})
		}
	}
	for id := range pr.applied {
		if !live[id] {
			delete(pr.applied, id)
		}
	}
	if len(changes) == 0 {
		pr.setCond(pod, w, nil, false)
		return rt
	}
	if reason, msg := resizeFits(pod, w.otherPods(pod), w.k.machine.capacity()); reason != "" {
		pr.setCond(pod, w, &corev1.PodCondition{Type: corev1.PodResizePending, Status: corev1.ConditionTrue, Reason: reason, Message: msg}, false)
		return rt
	}
	restarted := false
	var failed []string
	for _, ch := range changes {
		if restartOnResize(ch.spec, pr.applied[ch.run.ID]) {
			w.stopContainer(ctx, pod, ch.run, time.Now().Add(time.Duration(gracePeriod(pod))*time.Second), "Killing")
			delete(pr.applied, ch.run.ID)
			restarted = true
			continue
		}
		if err := w.updateResources(ctx, pod, ch.spec, ch.run.ID); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", ch.spec.Name, err))
			continue
		}
		pr.applied[ch.run.ID] = cpuMemory(ch.spec.Resources)
	}
	switch {
	case len(failed) > 0:
		sort.Strings(failed)
		pr.setCond(pod, w, &corev1.PodCondition{Type: corev1.PodResizeInProgress, Status: corev1.ConditionTrue,
			Reason: corev1.PodReasonError, Message: strings.Join(failed, "; ")}, false)
	case restarted:
		pr.setCond(pod, w, &corev1.PodCondition{Type: corev1.PodResizeInProgress, Status: corev1.ConditionTrue}, false)
	default:
		pr.setCond(pod, w, nil, true)
	}
	if !restarted {
		return rt
	}
	rt, _ = w.k.runtime.podRuntime(ctx, w.uid)
	return rt
}

// setCond records the pod's resize condition (nil: no resize under way), with an
// event when a resize ends (done: one was just applied) or starts waiting.
func (pr *podResize) setCond(pod *corev1.Pod, w *podWorker, c *corev1.PodCondition, done bool) {
	prev := pr.cond
	pr.cond = c
	switch {
	case c == nil && (prev != nil || done):
		w.k.recorder.Event(pod, corev1.EventTypeNormal, "ResizeCompleted", "Pod resize completed")
	case c != nil && c.Type == corev1.PodResizePending && (prev == nil || prev.Message != c.Message):
		w.k.recorder.Event(pod, corev1.EventTypeWarning, "Resize"+c.Reason, c.Message)
	}
}

func (w *podWorker) updateResources(ctx context.Context, pod *corev1.Pod, c *corev1.Container, id string) error {
	err := w.k.runtime.runtime.UpdateContainerResources(ctx, id, &runtimeapi.ContainerResources{
		Linux: containerResources(pod, c, w.k.machine.MemoryBytes)})
	if err != nil {
		w.log().Warn("resizing container failed", "container", c.Name, "err", err)
	}
	return err
}

// otherPods are the node's other pods that hold resources.
func (w *podWorker) otherPods(pod *corev1.Pod) []*corev1.Pod {
	all, _ := w.k.podLister.List(labels.Everything())
	var out []*corev1.Pod
	for _, p := range all {
		if p.UID != pod.UID && !isTerminal(p) {
			out = append(out, p)
		}
	}
	return out
}

// reportResize fills in what the running containers were given and the pod's resize
// condition; conditions from an earlier resize that is over are dropped.
func (t *resizeTracker) reportResize(pod *corev1.Pod, st *corev1.PodStatus, rt *podRuntime) {
	t.mu.Lock()
	pr := t.pods[pod.UID]
	t.mu.Unlock()
	if pr == nil {
		return
	}
	fill := func(cs []corev1.ContainerStatus) {
		for i := range cs {
			cur, _ := rt.latest(cs[i].Name)
			if cur == nil {
				continue
			}
			if r, ok := pr.applied[cur.ID]; ok {
				r := r.DeepCopy()
				cs[i].Resources = r
				cs[i].AllocatedResources = r.Requests
			}
		}
	}
	fill(st.ContainerStatuses)
	fill(st.InitContainerStatuses)
	var conds []corev1.PodCondition
	for _, c := range st.Conditions {
		if c.Type != corev1.PodResizePending && c.Type != corev1.PodResizeInProgress {
			conds = append(conds, c)
		}
	}
	if c := pr.cond; c != nil {
		nc := *c
		nc.LastTransitionTime = sec(time.Now())
		for _, old := range pod.Status.Conditions {
			if old.Type == nc.Type && old.Status == nc.Status && old.Reason == nc.Reason {
				nc.LastTransitionTime = old.LastTransitionTime
			}
		}
		conds = append(conds, nc)
	}
	st.Conditions = conds
}
