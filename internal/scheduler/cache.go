package scheduler

import (
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	fw "skiff/internal/scheduler/framework"
)

// assumedTTL is how long an assumed pod whose binding succeeded may wait for the
// informer to confirm it before the cache gives up on it.
const assumedTTL = 30 * time.Second

// Cache is the scheduler's view of nodes and the pods on them. It includes assumed
// pods: pods the scheduler has placed but whose binding is still in flight, so the
// next cycle already sees their resources taken. A scheduling cycle holds the lock
// for its whole pure computation and uses the cache itself as its snapshot.
type Cache struct {
	mu    sync.Mutex
	nodes map[string]*fw.NodeInfo
	list  []*fw.NodeInfo // nodes whose Node object is known, in a stable order
	pods  map[types.UID]*cachedPod
	// images counts how many nodes hold each normalised image name.
	images map[string]int
	// idx answers the affinity and spread PreFilters without walking every pod.
	idx *fw.PodIndex

	affinityDirty bool
	withAffinity  []*fw.NodeInfo
	withReqAnti   []*fw.NodeInfo
}

type cachedPod struct {
	info     *fw.PodInfo
	node     string
	assumed  bool
	deadline time.Time // zero while binding is in flight
}

// NewCache returns an empty cache.
func NewCache() *Cache {
	return &Cache{nodes: map[string]*fw.NodeInfo{}, pods: map[types.UID]*cachedPod{}, images: map[string]int{},
		idx: fw.NewPodIndex()}
}

// Lock and Unlock bracket a scheduling cycle; Snapshot methods need the lock held.
func (c *Cache) Lock()   { c.mu.Lock() }
func (c *Cache) Unlock() { c.mu.Unlock() }

// AddNode adds or updates a node.
func (c *Cache) AddNode(node *v1.Node) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni, ok := c.nodes[node.Name]
	if !ok {
		ni = fw.NewNodeInfo(nil)
		c.nodes[node.Name] = ni
	}
	if ni.Node == nil {
		c.list = append(c.list, ni)
	} else {
		c.countImages(ni, -1)
		c.idx.RemoveNode(ni.Node)
	}
	ni.SetNode(node)
	c.countImages(ni, 1)
	c.idx.AddNode(node)
	c.affinityDirty = true
}

func (c *Cache) countImages(ni *fw.NodeInfo, delta int) {
	for name := range ni.ImageSizes {
		if c.images[name] += delta; c.images[name] <= 0 {
			delete(c.images, name)
		}
	}
}

// RemoveNode drops a node; its pods stay accounted until they are deleted, as the
// node may come back.
func (c *Cache) RemoveNode(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ni, ok := c.nodes[name]
	if !ok || ni.Node == nil {
		return
	}
	c.countImages(ni, -1)
	c.idx.RemoveNode(ni.Node)
	for i, x := range c.list {
		if x == ni {
			c.list[i] = c.list[len(c.list)-1]
			c.list = c.list[:len(c.list)-1]
			break
		}
	}
	if len(ni.Pods) == 0 {
		delete(c.nodes, name)
	} else {
		ni.Node = nil
	}
	c.affinityDirty = true
}

// AddPod records a bound pod seen by the informer; it confirms an assumed pod.
func (c *Cache) AddPod(pod *v1.Pod) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[pod.UID]; ok {
		c.removeLocked(pod.UID, cp)
	}
	c.addLocked(fw.NewPodInfo(pod), pod.Spec.NodeName, false)
}

// RemovePod forgets a pod that was deleted or finished.
func (c *Cache) RemovePod(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[uid]; ok {
		c.removeLocked(uid, cp)
	}
}

// Assume counts pi on node before the binding is confirmed. The caller holds the
// lock (it is the end of a scheduling cycle).
func (c *Cache) Assume(pi *fw.PodInfo, node string) {
	pod := pi.Pod.DeepCopy()
	pod.Spec.NodeName = node
	assumed := *pi
	assumed.Pod = pod
	c.addLocked(&assumed, node, true)
}

// IsAssumed reports whether the scheduler placed uid and waits for confirmation.
func (c *Cache) IsAssumed(uid types.UID) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	cp, ok := c.pods[uid]
	return ok && cp.assumed
}

// FinishBinding starts the expiry clock of an assumed pod.
func (c *Cache) FinishBinding(uid types.UID, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[uid]; ok && cp.assumed {
		cp.deadline = now.Add(assumedTTL)
	}
}

// Forget undoes Assume after a failed binding.
func (c *Cache) Forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cp, ok := c.pods[uid]; ok && cp.assumed {
		c.removeLocked(uid, cp)
	}
}

// Expire drops assumed pods the informer never confirmed.
func (c *Cache) Expire(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for uid, cp := range c.pods {
		if cp.assumed && !cp.deadline.IsZero() && now.After(cp.deadline) {
			c.removeLocked(uid, cp)
		}
	}
}

func (c *Cache) addLocked(pi *fw.PodInfo, node string, assumed bool) {
	ni, ok := c.nodes[node]
	if !ok {
		ni = fw.NewNodeInfo(nil)
		c.nodes[node] = ni
	}
	ni.AddPod(pi)
	c.idx.AddPod(pi, ni)
	c.pods[pi.Pod.UID] = &cachedPod{info: pi, node: node, assumed: assumed}
	if hasAffinity(pi) {
		c.affinityDirty = true
	}
}

func (c *Cache) removeLocked(uid types.UID, cp *cachedPod) {
	delete(c.pods, uid)
	ni, ok := c.nodes[cp.node]
	if !ok {
		return
	}
	if ni.RemovePod(uid) {
		c.idx.RemovePod(cp.info, ni)
	}
	if ni.Node == nil && len(ni.Pods) == 0 {
		delete(c.nodes, cp.node)
	}
	if hasAffinity(cp.info) {
		c.affinityDirty = true
	}
}

func hasAffinity(pi *fw.PodInfo) bool {
	return len(pi.RequiredAffinityTerms)+len(pi.RequiredAntiAffinityTerms)+
		len(pi.PreferredAffinityTerms)+len(pi.PreferredAntiAffinityTerms) > 0
}

// The methods below implement fw.Snapshot; callers hold the lock.

// List implements fw.Snapshot.
func (c *Cache) List() []*fw.NodeInfo { return c.list }

// Get implements fw.Snapshot.
func (c *Cache) Get(name string) *fw.NodeInfo {
	if ni, ok := c.nodes[name]; ok && ni.Node != nil {
		return ni
	}
	return nil
}

// HavePodsWithAffinity implements fw.Snapshot.
func (c *Cache) HavePodsWithAffinity() []*fw.NodeInfo {
	c.refreshAffinity()
	return c.withAffinity
}

// HavePodsWithRequiredAntiAffinity implements fw.Snapshot.
func (c *Cache) HavePodsWithRequiredAntiAffinity() []*fw.NodeInfo {
	c.refreshAffinity()
	return c.withReqAnti
}

// refreshAffinity rebuilds the affinity node lists only when a pod or node with
// affinity changed, so pods without affinity never pay for the scan.
func (c *Cache) refreshAffinity() {
	if !c.affinityDirty {
		return
	}
	c.withAffinity, c.withReqAnti = c.withAffinity[:0], c.withReqAnti[:0]
	for _, ni := range c.list {
		if len(ni.PodsWithAffinity) > 0 {
			c.withAffinity = append(c.withAffinity, ni)
		}
		if len(ni.PodsWithRequiredAntiAffinity) > 0 {
			c.withReqAnti = append(c.withReqAnti, ni)
		}
	}
	c.affinityDirty = false
}

// Index implements fw.Snapshot.
func (c *Cache) Index() *fw.PodIndex { return c.idx }

// ImageNodeCount implements fw.Snapshot.
func (c *Cache) ImageNodeCount(image string) int { return c.images[image] }

// PodCount returns how many pods the cache counts, for tests and metrics.
func (c *Cache) PodCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.pods)
}
