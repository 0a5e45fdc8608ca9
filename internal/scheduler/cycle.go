package scheduler

import (
	"context"
	"fmt"
	"sync/atomic"

	v1 "k8s.io/api/core/v1"

	fw "skiff/internal/scheduler/framework"
)

// decision is what one scheduling cycle decided for a pod: a node, or why none
// (and possibly a node to preempt on). It is computed without any I/O.
type decision struct {
	node       string
	fitErr     *FitError
	rejectors  map[string]bool
	preemption *preemption
	err        error
}

// decide runs one scheduling cycle for pi under the cache lock and, on success,
// assumes the pod on the chosen node.
func (s *Scheduler) decide(ctx context.Context, pi *fw.PodInfo) decision {
	s.cache.Lock()
	defer s.cache.Unlock()
	snap := s.cache
	nodes := snap.List()
	if len(nodes) == 0 {
		return decision{fitErr: &FitError{}}
	}
	state := fw.NewCycleState()
	if st := s.prof.preFilter(ctx, state, pi, snap); st != nil {
		if !st.IsRejection() {
			return decision{err: fmt.Errorf("%s: %s", st.Plugin, st.Message())}
		}
		fe := &FitError{NumAllNodes: len(nodes), PreFilterMsg: st.Message()}
		fe.PostFilterMsg = preemptionNotHelpful(len(nodes))
		return decision{fitErr: fe, rejectors: map[string]bool{st.Plugin: true}}
	}
	nominated := s.queue.NominatedPods()
	if node := s.tryNominated(state, pi, nominated); node != "" {
		s.cache.Assume(pi, node)
		return decision{node: node}
	}
	feasible, statuses := s.findFeasible(state, pi, nodes, nominated)
	if len(feasible) == 0 {
		return s.unschedulable(ctx, state, pi, nodes, statuses, nominated)
	}
	node := feasible[0]
	if len(feasible) > 1 {
		node = s.selectHost(state, pi, snap, feasible)
	}
	s.cache.Assume(pi, node.Name())
	return decision{node: node.Name()}
}

// tryNominated gives a preemptor its nominated node first: that is where room was
// made for it.
func (s *Scheduler) tryNominated(state *fw.CycleState, pi *fw.PodInfo, nominated map[string][]*fw.PodInfo) string {
	name := pi.Pod.Status.NominatedNodeName
	if name == "" {
		return ""
	}
	ni := s.cache.Get(name)
	if ni == nil || !s.filterNode(state, pi, ni, nominated).IsSuccess() {
		return ""
	}
	return name
}

func (s *Scheduler) unschedulable(ctx context.Context, state *fw.CycleState, pi *fw.PodInfo, nodes []*fw.NodeInfo,
	statuses []*fw.Status, nominated map[string][]*fw.PodInfo) decision {
	fe := &FitError{NumAllNodes: len(nodes), Reasons: map[string]int{}}
	rejectors := map[string]bool{}
	byNode := make(map[string]*fw.Status, len(nodes))
	for i, st := range statuses {
		if st == nil {
			continue
		}
		byNode[nodes[i].Name()] = st
		rejectors[st.Plugin] = true
		for _, r := range st.Reasons {
			fe.Reasons[r]++
		}
	}
	p := s.preempt(ctx, state, pi, nodes, byNode, nominated)
	fe.PostFilterMsg = p.message
	d := decision{fitErr: fe, rejectors: rejectors}
	if p.node != "" {
		d.preemption = p
	}
	return d
}

// findFeasible filters nodes in parallel, starting where the previous cycle
// stopped so every node gets its turn, until it has found enough feasible nodes.
// statuses[i] holds the rejection of nodes[i] (nil if it fit or was not checked).
func (s *Scheduler) findFeasible(state *fw.CycleState, pi *fw.PodInfo, nodes []*fw.NodeInfo,
	nominated map[string][]*fw.PodInfo) ([]*fw.NodeInfo, []*fw.Status) {
	n := len(nodes)
	want := s.cfg.numFeasibleNodesToFind(n)
	if cap(s.statusBuf) < n {
		s.statusBuf = make([]*fw.Status, n)
	}
	statuses := s.statusBuf[:n]
	clear(statuses)
	if cap(s.feasibleBuf) < want {
		s.feasibleBuf = make([]*fw.NodeInfo, want)
	}
	feasible := s.feasibleBuf[:want]
	start := s.nextStart % n
	var found atomic.Int64
	processed := parallelize(s.workers, n, func() bool { return found.Load() >= int64(want) }, func(i int) {
		idx := (start + i) % n
		st := s.filterNode(state, pi, nodes[idx], nominated)
		if !st.IsSuccess() {
			statuses[idx] = st
			return
		}
		if k := found.Add(1); k <= int64(want) {
			feasible[k-1] = nodes[idx]
		}
	})
	s.nextStart = (start + processed) % n
	return feasible[:min(int(found.Load()), want)], statuses
}

// filterNode runs the filters on one node, counting pods nominated to it with at
// least the pod's priority as if they were already there.
func (s *Scheduler) filterNode(state *fw.CycleState, pi *fw.PodInfo, ni *fw.NodeInfo,
	nominated map[string][]*fw.PodInfo) *fw.Status {
	// The length check first: looking a node's name up for every node of every
	// cycle costs a cache miss each, and nominations are rare.
	if list := nominatedOn(nominated, ni); len(list) > 0 {
		var clone *fw.NodeInfo
		var cstate *fw.CycleState
		for _, np := range list {
			if np.Pod.UID == pi.Pod.UID || fw.Priority(np.Pod) < fw.Priority(pi.Pod) {
				continue
			}
			if clone == nil {
				clone, cstate = ni.Clone(), state.Clone()
			}
			clone.AddPod(np)
			s.prof.addPod(cstate, pi, np, clone)
		}
		if clone != nil {
			return s.prof.filter(cstate, pi, clone)
		}
	}
	return s.prof.filter(state, pi, ni)
}

func nominatedOn(nominated map[string][]*fw.PodInfo, ni *fw.NodeInfo) []*fw.PodInfo {
	if len(nominated) == 0 {
		return nil
	}
	return nominated[ni.Name()]
}

// selectHost scores the feasible nodes and picks the best, breaking ties at random
// so equal nodes share the load.
func (s *Scheduler) selectHost(state *fw.CycleState, pi *fw.PodInfo, snap fw.Snapshot, feasible []*fw.NodeInfo) *fw.NodeInfo {
	totals := s.score(state, pi, snap, feasible)
	best, ties := 0, 1
	for i := 1; i < len(totals); i++ {
		switch {
		case totals[i] > totals[best]:
			best, ties = i, 1
		case totals[i] == totals[best]:
			ties++
			if s.rand.IntN(ties) == 0 {
				best = i
			}
		}
	}
	return feasible[best]
}

// score returns the weighted sum of every score plugin for each feasible node.
func (s *Scheduler) score(state *fw.CycleState, pi *fw.PodInfo, snap fw.Snapshot, feasible []*fw.NodeInfo) []int64 {
	for _, pl := range s.prof.preScores {
		if pl.PreScore(state, pi, snap, feasible).IsSkip() {
			state.SkipScore[pl.Name()] = true
		}
	}
	n := len(feasible)
	totals := growInt64(&s.totalBuf, n)
	clear(totals)
	raw := growInt64(&s.rawBuf, n)
	for _, ws := range s.prof.scores {
		if state.SkipScore[ws.Name()] {
			continue
		}
		parallelize(s.workers, n, never, func(i int) { raw[i] = ws.Score(state, pi, feasible[i]) })
		if nz, ok := ws.ScorePlugin.(fw.ScoreNormalizer); ok {
			nz.Normalize(state, pi, raw)
		}
		for i := range raw {
			totals[i] += raw[i] * ws.weight
		}
	}
	return totals
}

func never() bool { return false }

func growInt64(buf *[]int64, n int) []int64 {
	if cap(*buf) < n {
		*buf = make([]int64, n)
	}
	return (*buf)[:n]
}

// responsible reports whether this scheduler should place pod.
func (s *Scheduler) responsible(pod *v1.Pod) bool {
	name := pod.Spec.SchedulerName
	if name == "" {
		name = DefaultSchedulerName
	}
	return name == s.cfg.SchedulerName && pod.Spec.NodeName == "" && !terminal(pod)
}

func terminal(pod *v1.Pod) bool {
	return pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
}
