package kubelet

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/kubelet/volume"
)

// resyncEvery bounds how long a worker sleeps with nothing to do, as a safety net
// under the event-driven wake-ups.
const resyncEvery = 30 * time.Second

// podWorker owns one pod: only its goroutine changes the pod's containers.
type podWorker struct {
	k        *Kubelet
	uid      types.UID
	ns, name string
	wakeCh   chan struct{}
	// waiting remembers why containers could not start (image, config, backoff).
	waiting map[string]corev1.ContainerStateWaiting
	// backoffSeen is the run whose crash was last reported, so BackOff events are
	// recorded once per crash.
	backoffSeen map[string]string
	// pullFailed is when and why each container's (or image volume's) image last
	// failed to pull.
	pullFailed map[string]failedPull
	// probeKilled holds the runs stopped for a failed liveness or startup probe.
	probeKilled map[string]bool
	// vols are the pod's volumes as prepared in the current sync.
	vols *volume.Pod
}

func newPodWorker(k *Kubelet, uid types.UID, ns, name string) *podWorker {
	return &podWorker{k: k, uid: uid, ns: ns, name: name, wakeCh: make(chan struct{}, 1),
		waiting: map[string]corev1.ContainerStateWaiting{}, backoffSeen: map[string]string{}, pullFailed: map[string]failedPull{},
		probeKilled: map[string]bool{}}
}

func (w *podWorker) poke() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

func (w *podWorker) log() *slog.Logger {
	return slog.With("pod", w.ns+"/"+w.name, "uid", w.uid)
}

func (w *podWorker) run(ctx context.Context) {
	for {
		pod := w.currentPod()
		done, requeue := w.sync(ctx, pod)
		if done {
			w.k.workerDone(w)
			return
		}
		if requeue <= 0 || requeue > resyncEvery {
			requeue = resyncEvery
		}
		t := time.NewTimer(requeue)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-w.wakeCh:
		case <-t.C:
		}
		t.Stop()
	}
}

// currentPod is the newer of the informer's pod and the one this node last wrote.
func (w *podWorker) currentPod() *corev1.Pod {
	return w.k.statuses.newest(w.k.getPod(w.ns, w.name, w.uid))
}

// sync moves the runtime one step toward the pod and reports the status. It returns
// done once the pod is gone everywhere, and when to look again.
func (w *podWorker) sync(ctx context.Context, pod *corev1.Pod) (bool, time.Duration) {
	rt, err := w.k.runtime.podRuntime(ctx, w.uid)
	if err != nil {
		w.log().Warn("reading pod from the runtime failed", "err", err)
		return false, 2 * time.Second
	}
	switch {
	case pod == nil:
		w.k.probes.forget(w.uid)
		return w.cleanup(ctx, rt), 2 * time.Second
	case pod.DeletionTimestamp != nil:
		w.k.probes.forget(w.uid)
		return false, w.terminate(ctx, pod, rt)
	case isTerminal(pod):
		w.k.probes.forget(w.uid)
		w.stopAll(ctx, pod, rt, gracePeriod(pod), "")
		return false, 0
	case w.k.eviction.requestedFor(w.uid) != "":
		return false, w.evict(ctx, pod, rt, w.k.eviction.requestedFor(w.uid))
	case rt.sandbox() == nil && len(pod.Status.ContainerStatuses) == 0 && w.refuse(ctx, pod, rt):
		return false, 0 // admission turned it away before anything of it ran
	case w.deadlineExceeded(pod):
		w.failPod(ctx, pod, rt, "DeadlineExceeded", "Pod was active on the node longer than the specified deadline")
		return false, 0
	case !w.k.networkReady.Load() && !pod.Spec.HostNetwork:
		return false, 0 // the network's set-up wakes every worker
	}
	return false, w.syncRunning(ctx, pod, rt)
}

func isTerminal(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

func gracePeriod(pod *corev1.Pod) int64 {
	if pod.DeletionGracePeriodSeconds != nil {
		return *pod.DeletionGracePeriodSeconds
	}
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		return *pod.Spec.TerminationGracePeriodSeconds
	}
	return 30
}

// syncRunning is the ordinary path: sandbox, then init containers, then app
// containers, then status.
func (w *podWorker) syncRunning(ctx context.Context, pod *corev1.Pod, rt *podRuntime) time.Duration {
	parent := podCgroupParent(w.k.cfg.CgroupPrefix, pod)
	if err := w.k.cgroups.ensurePod(parent, podCgroupLimits(pod)); err != nil {
		w.log().Warn("creating pod cgroup failed", "cgroup", parent, "err", err)
	}
	sb := rt.sandbox()
	if sb == nil || !sb.Ready {
		if p := podPhase(pod, rt); sb != nil && (p == corev1.PodSucceeded || p == corev1.PodFailed) {
			w.writeStatus(ctx, pod, rt)
			return 0
		}
		if err := w.createSandbox(ctx, pod, rt, parent); err != nil {
			w.writeStatus(ctx, pod, rt)
			return 5 * time.Second
		}
		if rt, _ = w.k.runtime.podRuntime(ctx, w.uid); rt == nil || rt.sandbox() == nil {
			return time.Second
		}
		sb = rt.sandbox()
	}
	if w.killUnhealthy(ctx, pod, rt) {
		if rt, _ = w.k.runtime.podRuntime(ctx, w.uid); rt == nil {
			return time.Second
		}
	}
	w.markProbeKilled(rt)
	if rt = w.resize(ctx, pod, rt); rt == nil {
		return time.Second
	}
	// Every sync re-projects ConfigMaps, Secrets and tokens into running pods.
	mounted := time.Now()
	w.vols = w.k.volumes.Setup(ctx, pod)
	w.log().Debug("volumes ready", "took", time.Since(mounted))
	pl := planPod(pod, rt, sb.ID, w.k.restarts, time.Now())
	w.killStale(ctx, pl.Kill)
	w.applyWaiting(pod, rt, pl)
	requeue := pl.Requeue
	withIPs := pod
	if len(pl.Start) > 0 {
		withIPs = withAddresses(pod, sb, w.k.cfg.NodeIPs)
	}
	for _, a := range pl.Start {
		if d := w.startContainer(ctx, withIPs, sb, a, parent); d > 0 && (requeue == 0 || d < requeue) {
			requeue = d
		}
	}
	if len(pl.Start) > 0 || len(pl.Kill) > 0 {
		rt, _ = w.k.runtime.podRuntime(ctx, w.uid)
		if rt == nil {
			return time.Second
		}
		w.pokeIfNewWork(pod, rt, sb.ID, pl)
	}
	w.removeOldRuns(ctx, rt)
	if pl.Failed {
		w.stopAll(ctx, pod, rt, gracePeriod(pod), "")
	}
	w.writeStatus(ctx, pod, rt)
	return requeue
}

// pokeIfNewWork runs the worker again at once when the runtime it read back after
// acting holds work the plan did not (a container exited meanwhile): the PLEG does
// not wake a worker for a state it has read.
func (w *podWorker) pokeIfNewWork(pod *corev1.Pod, rt *podRuntime, sandboxID string, done plan) {
	// A run is known by its name and attempt: a container that started and exited
	// at once plans its next attempt, while one that failed to start plans the same.
	tried := map[string]bool{}
	for _, a := range done.Start {
		tried[runKey(a)] = true
	}
	for _, c := range done.Kill {
		tried["kill/"+c.ID] = true
	}
	again := planPod(pod, rt, sandboxID, w.k.restarts, time.Now())
	for _, a := range again.Start {
		if !tried[runKey(a)] {
			w.poke()
			return
		}
	}
	for _, c := range again.Kill {
		if !tried["kill/"+c.ID] {
			w.poke()
			return
		}
	}
	for name := range again.Waiting { // a back-off to wait out
		if _, ok := done.Waiting[name]; !ok {
			w.poke()
			return
		}
	}
}

func runKey(a startAction) string {
	return a.Container.Name + "/" + strconv.FormatUint(uint64(a.Attempt), 10)
}

// applyWaiting keeps the reasons the plan found and reports new back-offs.
func (w *podWorker) applyWaiting(pod *corev1.Pod, rt *podRuntime, pl plan) {
	for name, wt := range w.waiting {
		if wt.Reason == "CrashLoopBackOff" {
			delete(w.waiting, name)
		}
	}
	for name, wt := range pl.Waiting {
		w.waiting[name] = wt
	}
	for _, name := range pl.BackOff {
		cur, _ := rt.latest(name)
		if cur == nil || w.backoffSeen[name] == cur.ID {
			continue
		}
		w.backoffSeen[name] = cur.ID
		w.k.recorder.Eventf(pod, corev1.EventTypeWarning, "BackOff", "Back-off restarting failed container %s in pod %s_%s(%s)", name, pod.Name, pod.Namespace, pod.UID)
	}
}

// writeStatus computes the pod status and writes it when it changed.
func (w *podWorker) writeStatus(ctx context.Context, pod *corev1.Pod, rt *podRuntime) {
	w.k.probes.sync(ctx, pod, w.uid, rt, probeHost(pod, rt, w.k.cfg.NodeIPs))
	st := computeStatus(statusInput{Pod: pod, Runtime: rt, Waiting: w.waiting, HostIPs: w.k.cfg.NodeIPs, Now: time.Now(),
		Ready: w.k.probes.Ready, Started: w.k.probes.Started})
	w.k.resizes.reportResize(pod, &st, rt)
	w.putStatus(ctx, pod, st)
}

func (w *podWorker) putStatus(ctx context.Context, pod *corev1.Pod, st corev1.PodStatus) {
	start := time.Now()
	wrote, err := w.k.statuses.put(ctx, pod, st)
	if wrote {
		w.log().Debug("status put", "phase", st.Phase, "took", time.Since(start))
	}
	if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) {
		w.log().Warn("updating pod status failed", "err", err)
	}
}

func (w *podWorker) deadlineExceeded(pod *corev1.Pod) bool {
	d := pod.Spec.ActiveDeadlineSeconds
	start := pod.Status.StartTime
	return d != nil && start != nil && time.Since(start.Time) >= time.Duration(*d)*time.Second
}

// failPod stops everything and marks the pod Failed with reason.
func (w *podWorker) failPod(ctx context.Context, pod *corev1.Pod, rt *podRuntime, reason, msg string) {
	w.k.recorder.Event(pod, corev1.EventTypeNormal, reason, msg)
	w.stopAll(ctx, pod, rt, gracePeriod(pod), "")
	rt, err := w.k.runtime.podRuntime(ctx, w.uid)
	if err != nil {
		return
	}
	p := pod.DeepCopy()
	p.Status.Phase = corev1.PodFailed
	st := computeStatus(statusInput{Pod: p, Runtime: rt, Waiting: w.waiting, HostIPs: w.k.cfg.NodeIPs, Now: time.Now()})
	st.Reason, st.Message = reason, msg
	w.putStatus(ctx, pod, st)
}

// removeOldRuns keeps the current and the previous run of each container (the one
// `kubectl logs --previous` reads) and removes older exited ones.
func (w *podWorker) removeOldRuns(ctx context.Context, rt *podRuntime) {
	seen := map[string]int{}
	for i := range rt.Containers {
		c := &rt.Containers[i]
		seen[c.Name]++
		if seen[c.Name] > 2 && c.exited() {
			if err := w.k.runtime.runtime.RemoveContainer(ctx, c.ID); err != nil {
				w.log().Debug("removing old container failed", "container", c.ID, "err", err)
			}
		}
	}
}

// cleanup removes what is left of a pod the API no longer has; it reports true once
// nothing is left.
func (w *podWorker) cleanup(ctx context.Context, rt *podRuntime) bool {
	w.stopAll(ctx, nil, rt, 2, "")
	ok := true
	for _, c := range rt.Containers {
		if err := w.k.runtime.runtime.RemoveContainer(ctx, c.ID); err != nil {
			ok = false
		}
	}
	for _, sb := range rt.Sandboxes {
		if err := w.k.runtime.runtime.RemovePodSandbox(ctx, sb.ID); err != nil {
			w.log().Warn("removing sandbox failed", "sandbox", sb.ID, "err", err)
			ok = false
		}
	}
	for _, q := range []string{"", "burstable", "besteffort"} {
		parent := w.k.cfg.CgroupPrefix + "/" + q + "/pod" + string(w.uid)
		if err := w.k.cgroups.removePod(parent); err != nil {
			w.log().Debug("removing pod cgroup failed; retrying", "err", err)
			ok = false
		}
	}
	if ok {
		if err := w.k.volumes.Teardown(w.uid); err != nil {
			w.log().Warn("removing pod volumes failed; retrying", "err", err)
			ok = false
		}
	}
	if ok {
		_ = os.RemoveAll(w.k.podLogDir(w.ns, w.name, string(w.uid)))
		w.k.statuses.forget(w.uid)
		w.k.runtime.forget(w.uid)
		w.k.restarts.Forget(string(w.uid) + "/")
		w.k.pulls.Forget(string(w.uid) + "/")
		w.k.resizes.forget(w.uid)
		w.log().Info("pod removed from node")
	}
	return ok
}
