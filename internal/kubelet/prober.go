package kubelet

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// prober runs the liveness, readiness and startup probes of the node's running
// containers: one goroutine per probe of each container run, started when the run is
// seen running and stopped when it is not. Results are kept by container ID; pod
// workers read them when they compute the status and kill unhealthy runs.
type prober struct {
	k       *Kubelet
	mu      sync.Mutex
	workers map[probeKey]*probeWorker
	results map[string]*containerHealth // by container ID
	// since is when the agent started: a run that started before it is taken as
	// past its startup probe, as Kubernetes does after a kubelet restart.
	since time.Time
}

type probeKey struct {
	uid       types.UID
	container string
	kind      probeKind
}

// containerHealth is what the probes say of one container run.
type containerHealth struct {
	started   bool   // startup probe passed (or none)
	ready     bool   // readiness probe passed (or none)
	unhealthy string // set when liveness or startup failed: the Killing message
	grace     *int64 // the failed probe's terminationGracePeriodSeconds
}

type probeWorker struct {
	containerID string
	cancel      context.CancelFunc
}

func newProber(k *Kubelet) *prober {
	return &prober{k: k, workers: map[probeKey]*probeWorker{}, results: map[string]*containerHealth{}, since: time.Now()}
}

// Ready reports a container run's readiness for the status: a run with neither a
// readiness nor a startup probe is ready while it runs.
func (p *prober) Ready(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.results[id]
	if !ok {
		return true
	}
	return h.started && h.ready
}

// Started reports whether a run's startup probe has passed (true without one).
func (p *prober) Started(id string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.results[id]
	return !ok || h.started
}

// Unhealthy returns the Killing message and grace override for a run whose liveness
// or startup probe failed.
func (p *prober) Unhealthy(id string) (string, *int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.results[id]
	if !ok || h.unhealthy == "" {
		return "", nil, false
	}
	return h.unhealthy, h.grace, true
}

// sync starts probes for the pod's running containers that have none yet and stops
// those of runs that ended. pod nil or terminating stops them all.
func (p *prober) sync(ctx context.Context, pod *corev1.Pod, uid types.UID, rt *podRuntime, host string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	want := map[probeKey]string{}
	specs := map[string]*corev1.Container{}
	if pod != nil && pod.DeletionTimestamp == nil && rt != nil {
		all := allContainers(pod)
		for i := range all {
			c := &all[i]
			if !isProbed(c) {
				continue
			}
			cur, _ := rt.latest(c.Name)
			if cur == nil || !cur.running() {
				continue
			}
			specs[c.Name] = c
			for _, kind := range []probeKind{probeLiveness, probeReadiness, probeStartup} {
				if probeFor(c, kind) != nil {
					want[probeKey{uid, c.Name, kind}] = cur.ID
				}
			}
			if _, ok := p.results[cur.ID]; !ok {
				p.results[cur.ID] = &containerHealth{
					started: c.StartupProbe == nil || cur.StartedAt.Before(p.since), ready: c.ReadinessProbe == nil}
			}
		}
	}
	for key, w := range p.workers {
		if key.uid != uid {
			continue
		}
		if id, ok := want[key]; !ok || id != w.containerID {
			w.cancel()
			delete(p.workers, key)
			delete(p.results, w.containerID)
		}
	}
	for key, id := range want {
		if _, ok := p.workers[key]; ok {
			continue
		}
		cur, _ := rt.latest(key.container)
		wctx, cancel := context.WithCancel(ctx)
		p.workers[key] = &probeWorker{containerID: id, cancel: cancel}
		t := probeTarget{ContainerID: id, Host: host, Container: specs[key.container]}
		go p.run(wctx, pod, key, t, cur.StartedAt)
	}
}

func isProbed(c *corev1.Container) bool {
	return c.LivenessProbe != nil || c.ReadinessProbe != nil || c.StartupProbe != nil
}

// run probes one container run until ctx ends: after initialDelaySeconds (from the
// container's start) plus a jitter, every periodSeconds. Liveness and readiness wait
// for the startup probe; the startup probe stops once it has passed.
func (p *prober) run(ctx context.Context, pod *corev1.Pod, key probeKey, t probeTarget, startedAt time.Time) {
	spec := probeFor(t.Container, key.kind)
	period := time.Duration(max(spec.PeriodSeconds, 1)) * time.Second
	delay := time.Until(startedAt.Add(time.Duration(spec.InitialDelaySeconds) * time.Second))
	jitter := time.Duration(rand.Int64N(int64(min(period, time.Second))))
	if !sleepCtx(ctx, max(delay, 0)+jitter) {
		return
	}
	state := initialProbeState(key.kind)
	ticker := time.NewTicker(period)
	defer ticker.Stop()
	for {
		if p.gate(t.ContainerID, key.kind) {
			ok, msg := runProbe(ctx, p.k.runtime.runtime, spec, t)
			if ctx.Err() != nil {
				return
			}
			p.k.metrics.probe(key.kind, ok)
			if !ok {
				p.k.recorder.Eventf(pod, corev1.EventTypeWarning, "Unhealthy", "%s probe failed: %s", key.kind, msg)
			}
			var changed bool
			state, changed = state.observe(ok, spec.SuccessThreshold, spec.FailureThreshold)
			if changed {
				slog.Info("probe result changed", "pod", pod.Namespace+"/"+pod.Name, "container", key.container,
					"probe", key.kind.String(), "ok", state.OK)
				if p.record(t.ContainerID, key, state.OK, spec) {
					p.k.pokeWorker(pod.UID)
				}
				if !state.OK && key.kind != probeReadiness {
					return // the run will be killed; its successor gets new probes
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// gate says whether a probe should run now: the startup probe until it passes, the
// others after it, and nothing once the run is condemned.
func (p *prober) gate(id string, kind probeKind) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	h, ok := p.results[id]
	if !ok || h.unhealthy != "" {
		return false
	}
	if kind == probeStartup {
		return !h.started
	}
	return h.started
}

// record stores a settled result and reports whether the pod worker must look again.
func (p *prober) record(id string, key probeKey, ok bool, spec *corev1.Probe) bool {
	kind := key.kind
	p.mu.Lock()
	defer p.mu.Unlock()
	h, found := p.results[id]
	if !found {
		return false
	}
	switch kind {
	case probeStartup:
		h.started = ok
	case probeReadiness:
		h.ready = ok
	}
	if !ok && kind != probeReadiness {
		h.unhealthy = "Container " + key.container + " failed " + map[probeKind]string{probeLiveness: "liveness", probeStartup: "startup"}[kind] + " probe, will be restarted"
		h.grace = spec.TerminationGracePeriodSeconds
	}
	return true
}

// forget stops every probe of a pod.
func (p *prober) forget(uid types.UID) {
	p.sync(context.Background(), nil, uid, nil, "")
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// pokeWorker wakes the pod's worker, if it has one.
func (k *Kubelet) pokeWorker(uid types.UID) {
	k.mu.Lock()
	w := k.workers[string(uid)]
	k.mu.Unlock()
	if w != nil {
		w.poke()
	}
}

// probeHost is the address probes reach the pod at.
func probeHost(pod *corev1.Pod, rt *podRuntime, nodeIPs []string) string {
	if pod.Spec.HostNetwork && len(nodeIPs) > 0 {
		return nodeIPs[0]
	}
	if sb := rt.sandbox(); sb != nil && len(sb.IPs) > 0 {
		return sb.IPs[0]
	}
	return pod.Status.PodIP
}

// killUnhealthy stops the running containers whose liveness or startup probe failed,
// with the probe's grace period when it sets one; the restart policy then decides
// whether they run again. It reports whether it stopped any.
func (w *podWorker) killUnhealthy(ctx context.Context, pod *corev1.Pod, rt *podRuntime) bool {
	killed := false
	for i := range rt.Containers {
		c := &rt.Containers[i]
		if !c.running() {
			continue
		}
		msg, grace, bad := w.k.probes.Unhealthy(c.ID)
		if !bad {
			continue
		}
		g := gracePeriod(pod)
		if grace != nil {
			g = *grace
		}
		w.k.recorder.Event(pod, corev1.EventTypeNormal, "Killing", msg)
		w.probeKilled[c.ID] = true
		w.stopContainer(ctx, pod, c, time.Now().Add(time.Duration(g)*time.Second), "")
		killed = true
	}
	return killed
}

// markProbeKilled flags the runs this worker stopped for failed probes, and forgets
// runs the runtime no longer has.
func (w *podWorker) markProbeKilled(rt *podRuntime) {
	seen := map[string]bool{}
	for i := range rt.Containers {
		c := &rt.Containers[i]
		seen[c.ID] = true
		c.ProbeKilled = w.probeKilled[c.ID]
	}
	for id := range w.probeKilled {
		if !seen[id] {
			delete(w.probeKilled, id)
		}
	}
}
