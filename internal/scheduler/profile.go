package scheduler

import (
	"context"

	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"

	fw "skiff/internal/scheduler/framework"
	"skiff/internal/scheduler/plugins"
)

// profile is the ordered set of plugins a cycle runs. Filters are ordered cheapest
// and most selective first, since a node stops at its first failing filter.
type profile struct {
	preFilters  []fw.PreFilterPlugin
	filters     []fw.FilterPlugin
	addRemovers []fw.PodAddRemover
	preScores   []fw.PreScorePlugin
	scores      []weightedScore
	// volumes also runs after a node is chosen, to tell waiting claims the node.
	volumes *plugins.VolumeBinding
}

type weightedScore struct {
	fw.ScorePlugin
	weight int64
}

// listers the plugins read besides the snapshot.
type listers struct {
	namespaces corelisters.NamespaceLister
	volumes    *plugins.VolumeBinding
	// workloads selects a pod's peers for the default topology spread; nil
	// turns the system defaults off.
	workloads plugins.SelectorFunc
}

func newProfile(cfg *Config, l listers) *profile {
	strategy := plugins.LeastAllocated
	if cfg.Profile == ProfileBinPack {
		strategy = plugins.MostAllocated
	}
	fit := &plugins.NodeResourcesFit{Strategy: strategy}
	ipa := &plugins.InterPodAffinity{NamespaceLabels: nsLabels(l.namespaces)}
	spread := plugins.PodTopologySpread{DefaultSelector: l.workloads}
	vol := l.volumes
	if vol == nil {
		vol = &plugins.VolumeBinding{}
	}
	all := []fw.Plugin{
		plugins.NodeUnschedulable{}, plugins.NodeName{}, plugins.TaintToleration{},
		plugins.NodeAffinity{}, plugins.NodePorts{}, fit, vol, spread, ipa,
		plugins.BalancedAllocation{}, &plugins.ImageLocality{},
	}
	p := &profile{volumes: vol}
	weights := cfg.weights()
	for _, pl := range all {
		if x, ok := pl.(fw.PreFilterPlugin); ok {
			p.preFilters = append(p.preFilters, x)
		}
		if x, ok := pl.(fw.FilterPlugin); ok {
			p.filters = append(p.filters, x)
		}
		if x, ok := pl.(fw.PodAddRemover); ok {
			p.addRemovers = append(p.addRemovers, x)
		}
		if x, ok := pl.(fw.ScorePlugin); ok && weights[pl.Name()] > 0 {
			p.scores = append(p.scores, weightedScore{x, weights[pl.Name()]})
			if y, ok := pl.(fw.PreScorePlugin); ok {
				p.preScores = append(p.preScores, y)
			}
		}
	}
	return p
}

func nsLabels(l corelisters.NamespaceLister) fw.NamespaceLabels {
	if l == nil {
		return nil
	}
	return func(name string) labels.Set {
		ns, err := l.Get(name)
		if err != nil {
			return nil
		}
		return ns.Labels
	}
}

// preFilter runs every PreFilter; the first rejection fails the whole pod.
func (p *profile) preFilter(ctx context.Context, state *fw.CycleState, pi *fw.PodInfo, snap fw.Snapshot) *fw.Status {
	for _, pl := range p.preFilters {
		st := pl.PreFilter(ctx, state, pi, snap)
		switch {
		case st.IsSkip():
			state.SkipFilter[pl.Name()] = true
		case !st.IsSuccess():
			return st.WithPlugin(pl.Name())
		}
	}
	state.Filters = make([]fw.FilterPlugin, 0, len(p.filters))
	for _, pl := range p.filters {
		if !state.SkipFilter[pl.Name()] {
			state.Filters = append(state.Filters, pl)
		}
	}
	return nil
}

// filter runs the filters on one node and stops at the first that rejects it.
func (p *profile) filter(state *fw.CycleState, pi *fw.PodInfo, ni *fw.NodeInfo) *fw.Status {
	if state.Filters != nil {
		for _, pl := range state.Filters {
			if st := pl.Filter(state, pi, ni); !st.IsSuccess() {
				return st.WithPlugin(pl.Name())
			}
		}
		return nil
	}
	for _, pl := range p.filters {
		if state.SkipFilter[pl.Name()] {
			continue
		}
		if st := pl.Filter(state, pi, ni); !st.IsSuccess() {
			return st.WithPlugin(pl.Name())
		}
	}
	return nil
}

// filterAll runs every filter on one node and keeps every rejection, for Explain.
func (p *profile) filterAll(state *fw.CycleState, pi *fw.PodInfo, ni *fw.NodeInfo) []*fw.Status {
	var out []*fw.Status
	for _, pl := range p.filters {
		if state.SkipFilter[pl.Name()] {
			continue
		}
		if st := pl.Filter(state, pi, ni); !st.IsSuccess() {
			out = append(out, st.WithPlugin(pl.Name()))
		}
	}
	return out
}

func (p *profile) addPod(state *fw.CycleState, pi, added *fw.PodInfo, ni *fw.NodeInfo) {
	for _, x := range p.addRemovers {
		x.AddPod(state, pi, added, ni)
	}
}

func (p *profile) removePod(state *fw.CycleState, pi, removed *fw.PodInfo, ni *fw.NodeInfo) {
	for _, x := range p.addRemovers {
		x.RemovePod(state, pi, removed, ni)
	}
}
