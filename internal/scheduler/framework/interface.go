package framework

import "context"

// MaxScore is the top of the normalised score range every score plugin returns.
const MaxScore int64 = 100

// Snapshot is the read-only cluster view plugins see during one scheduling cycle.
type Snapshot interface {
	// List returns every node, in a stable order.
	List() []*NodeInfo
	// Get returns a node by name, or nil.
	Get(name string) *NodeInfo
	// HavePodsWithAffinity lists the nodes with at least one pod carrying affinity
	// terms, so the symmetric checks look only there.
	HavePodsWithAffinity() []*NodeInfo
	// HavePodsWithRequiredAntiAffinity lists nodes with a pod that has required
	// anti-affinity.
	HavePodsWithRequiredAntiAffinity() []*NodeInfo
	// ImageNodeCount is how many nodes hold the (normalised) image.
	ImageNodeCount(image string) int
	// Index is the incremental pod and term index over the same nodes, or nil,
	// in which case plugins walk the pods themselves.
	Index() *PodIndex
}

// Plugin is anything with a name; every extension point embeds it.
type Plugin interface {
	Name() string
}

// PreFilterPlugin computes per-pod state once per cycle, before nodes are filtered.
// Returning Skip means its Filter has nothing to check for this pod; a rejection
// fails every node at once.
type PreFilterPlugin interface {
	Plugin
	PreFilter(ctx context.Context, state *CycleState, pod *PodInfo, snap Snapshot) *Status
}

// FilterPlugin decides whether one node can run the pod. It is called concurrently
// for different nodes and must only read state.
type FilterPlugin interface {
	Plugin
	Filter(state *CycleState, pod *PodInfo, node *NodeInfo) *Status
}

// PodAddRemover lets preemption and nominated-pod checks update a PreFilter's state
// when they simulate adding or removing a pod on a node.
type PodAddRemover interface {
	AddPod(state *CycleState, pod, added *PodInfo, node *NodeInfo)
	RemovePod(state *CycleState, pod, removed *PodInfo, node *NodeInfo)
}

// PreScorePlugin prepares state for Score over the feasible nodes.
type PreScorePlugin interface {
	Plugin
	PreScore(state *CycleState, pod *PodInfo, snap Snapshot, nodes []*NodeInfo) *Status
}

// ScorePlugin ranks a feasible node. Scores are normalised to [0, MaxScore], either
// by construction or by the plugin's Normalize.
type ScorePlugin interface {
	Plugin
	Score(state *CycleState, pod *PodInfo, node *NodeInfo) int64
}

// ScoreNormalizer rescales the raw scores of all feasible nodes (in place).
type ScoreNormalizer interface {
	Normalize(state *CycleState, pod *PodInfo, scores []int64)
}

// StateData is a plugin's per-cycle data. Clone lets preemption simulate changes
// without corrupting the real cycle.
type StateData interface {
	Clone() StateData
}

// CycleState carries plugin data through one scheduling cycle. It is written only
// by PreFilter and PreScore, which run on one goroutine, and read by Filter and
// Score in parallel, so it needs no lock.
type CycleState struct {
	data map[string]StateData
	// SkipFilter and SkipScore name plugins that returned Skip.
	SkipFilter map[string]bool
	SkipScore  map[string]bool
	// Filters are the filters not skipped, in order, once the PreFilters have run
	// (nil before): the per-node loop then needs no map lookup per plugin.
	Filters []FilterPlugin
}

// NewCycleState returns an empty state.
func NewCycleState() *CycleState {
	return &CycleState{data: map[string]StateData{}, SkipFilter: map[string]bool{}, SkipScore: map[string]bool{}}
}

// Write stores data under key.
func (c *CycleState) Write(key string, d StateData) { c.data[key] = d }

// Read returns the data under key, or nil.
func (c *CycleState) Read(key string) StateData { return c.data[key] }

// Clone deep-copies the state for a simulation.
func (c *CycleState) Clone() *CycleState {
	n := NewCycleState()
	for k, v := range c.data {
		n.data[k] = v.Clone()
	}
	for k, v := range c.SkipFilter {
		n.SkipFilter[k] = v
	}
	for k, v := range c.SkipScore {
		n.SkipScore[k] = v
	}
	n.Filters = c.Filters
	return n
}
