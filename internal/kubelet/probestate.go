package kubelet

import corev1 "k8s.io/api/core/v1"

// probeKind is which of a container's three probes.
type probeKind int

const (
	probeLiveness probeKind = iota
	probeReadiness
	probeStartup
)

// String is the word Kubernetes uses in events ("Liveness probe failed: ...").
func (k probeKind) String() string {
	switch k {
	case probeLiveness:
		return "Liveness"
	case probeReadiness:
		return "Readiness"
	}
	return "Startup"
}

// probeFor returns the container's probe of that kind, or nil.
func probeFor(c *corev1.Container, kind probeKind) *corev1.Probe {
	switch kind {
	case probeLiveness:
		return c.LivenessProbe
	case probeReadiness:
		return c.ReadinessProbe
	}
	return c.StartupProbe
}

// probeState is the settled result of one probe and the run of identical raw results
// that may overturn it. observe is pure, so the threshold rules have table tests.
type probeState struct {
	OK bool // the settled result
	// Settled is false while a startup probe has no result yet: its first run of
	// failures (failureThreshold long) settles it as failed.
	Settled bool
	run     int32
	// last is the most recent raw result; run counts how many in a row.
	last    bool
	started bool // at least one raw result seen
}

// initialProbeState: liveness starts healthy, readiness failed and startup unknown,
// as in Kubernetes.
func initialProbeState(kind probeKind) probeState {
	return probeState{OK: kind == probeLiveness, Settled: kind != probeStartup}
}

// observe feeds one raw result and reports whether the settled result flipped.
// A result flips after successThreshold successes or failureThreshold failures in a
// row (thresholds below 1 count as 1).
func (s probeState) observe(ok bool, successThreshold, failureThreshold int32) (probeState, bool) {
	if s.started && s.last == ok {
		s.run++
	} else {
		s.run = 1
	}
	s.last, s.started = ok, true
	need := max(failureThreshold, 1)
	if ok {
		need = max(successThreshold, 1)
	}
	if (ok != s.OK || !s.Settled) && s.run >= need {
		s.OK, s.Settled = ok, true
		return s, true
	}
	return s, false
}
