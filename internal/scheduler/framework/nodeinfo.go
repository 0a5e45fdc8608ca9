package framework

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// NodeInfo is one node and the pods the scheduler counts on it (bound, and assumed
// while their binding is in flight), with running sums so filters are O(1).
type NodeInfo struct {
	Node                         *v1.Node
	Pods                         []*PodInfo
	PodsWithAffinity             []*PodInfo
	PodsWithRequiredAntiAffinity []*PodInfo
	Requested                    Resource
	NonZeroRequested             Resource
	Allocatable                  Resource
	UsedPorts                    map[HostPort]int
	// ImageSizes maps every name of every image on the node to its size.
	ImageSizes map[string]int64
	// Generation increases on every change; snapshots use it to copy only what moved.
	Generation int64
	// hostname and zone copy the two topology labels most constraints use, so the
	// filters that run on every node of every cycle read them from here rather than
	// from the node's label map (a cache miss and a string hash each time).
	// labelsOf is the node object they were read from.
	hostname, zone cachedLabel
	labelsOf       *v1.Node
}

type cachedLabel struct {
	value string
	ok    bool
}

// Label returns the node's label key, as node.Labels[key] would.
func (n *NodeInfo) Label(key string) (string, bool) {
	if n.labelsOf == n.Node {
		switch key {
		case v1.LabelHostname:
			return n.hostname.value, n.hostname.ok
		case v1.LabelTopologyZone:
			return n.zone.value, n.zone.ok
		}
	}
	v, ok := n.Node.Labels[key]
	return v, ok
}

// NewNodeInfo returns an empty NodeInfo for node (which may be nil until the node
// object arrives after pods bound to it).
func NewNodeInfo(node *v1.Node) *NodeInfo {
	ni := &NodeInfo{}
	if node != nil {
		ni.SetNode(node)
	}
	return ni
}

// Name returns the node's name, or "" before the node object is known.
func (n *NodeInfo) Name() string {
	if n.Node == nil {
		return ""
	}
	return n.Node.Name
}

// SetNode replaces the node object and its derived allocatable and images.
func (n *NodeInfo) SetNode(node *v1.Node) {
	n.Node = node
	n.labelsOf = node
	n.hostname.value, n.hostname.ok = node.Labels[v1.LabelHostname]
	n.zone.value, n.zone.ok = node.Labels[v1.LabelTopologyZone]
	n.Allocatable = Resource{}
	n.Allocatable.Add(node.Status.Allocatable)
	n.ImageSizes = make(map[string]int64, len(node.Status.Images))
	for _, img := range node.Status.Images {
		for _, name := range img.Names {
			n.ImageSizes[NormalizeImage(name)] = img.SizeBytes
		}
	}
	n.Generation++
}

// AddPod counts pi on this node.
func (n *NodeInfo) AddPod(pi *PodInfo) {
	n.Pods = append(n.Pods, pi)
	if len(pi.RequiredAffinityTerms)+len(pi.RequiredAntiAffinityTerms)+
		len(pi.PreferredAffinityTerms)+len(pi.PreferredAntiAffinityTerms) > 0 {
		n.PodsWithAffinity = append(n.PodsWithAffinity, pi)
	}
	if len(pi.RequiredAntiAffinityTerms) > 0 {
		n.PodsWithRequiredAntiAffinity = append(n.PodsWithRequiredAntiAffinity, pi)
	}
	n.Requested.AddResource(&pi.Requests)
	n.NonZeroRequested.AddResource(&pi.NonZeroRequests)
	if len(pi.HostPorts) > 0 {
		if n.UsedPorts == nil {
			n.UsedPorts = map[HostPort]int{}
		}
		for _, p := range pi.HostPorts {
			n.UsedPorts[p]++
		}
	}
	n.Generation++
}

// RemovePod stops counting the pod with uid; it reports whether it was there.
func (n *NodeInfo) RemovePod(uid types.UID) bool {
	i := indexOf(n.Pods, uid)
	if i < 0 {
		return false
	}
	pi := n.Pods[i]
	n.Pods = removeAt(n.Pods, i)
	if j := indexOf(n.PodsWithAffinity, uid); j >= 0 {
		n.PodsWithAffinity = removeAt(n.PodsWithAffinity, j)
	}
	if j := indexOf(n.PodsWithRequiredAntiAffinity, uid); j >= 0 {
		n.PodsWithRequiredAntiAffinity = removeAt(n.PodsWithRequiredAntiAffinity, j)
	}
	n.Requested.SubResource(&pi.Requests)
	n.NonZeroRequested.SubResource(&pi.NonZeroRequests)
	for _, p := range pi.HostPorts {
		if n.UsedPorts[p]--; n.UsedPorts[p] <= 0 {
			delete(n.UsedPorts, p)
		}
	}
	n.Generation++
	return true
}

// Clone copies the NodeInfo so a simulation (preemption, nominated pods) can add and
// remove pods without touching the cache. The node and pod objects are shared.
func (n *NodeInfo) Clone() *NodeInfo {
	c := &NodeInfo{
		Node:                         n.Node,
		Pods:                         append([]*PodInfo(nil), n.Pods...),
		PodsWithAffinity:             append([]*PodInfo(nil), n.PodsWithAffinity...),
		PodsWithRequiredAntiAffinity: append([]*PodInfo(nil), n.PodsWithRequiredAntiAffinity...),
		Requested:                    n.Requested.Clone(),
		NonZeroRequested:             n.NonZeroRequested.Clone(),
		Allocatable:                  n.Allocatable.Clone(),
		ImageSizes:                   n.ImageSizes,
		Generation:                   n.Generation,
		hostname:                     n.hostname,
		zone:                         n.zone,
		labelsOf:                     n.labelsOf,
	}
	if n.UsedPorts != nil {
		c.UsedPorts = make(map[HostPort]int, len(n.UsedPorts))
		for k, v := range n.UsedPorts {
			c.UsedPorts[k] = v
		}
	}
	return c
}

func indexOf(pods []*PodInfo, uid types.UID) int {
	for i, p := range pods {
		if p.Pod.UID == uid {
			return i
		}
	}
	return -1
}

// removeAt drops element i without keeping order, so removal stays O(1).
func removeAt(pods []*PodInfo, i int) []*PodInfo {
	last := len(pods) - 1
	pods[i] = pods[last]
	pods[last] = nil
	return pods[:last]
}

// NormalizeImage adds the implicit ":latest" tag so "nginx" and "nginx:latest" are
// the same image for image locality.
func NormalizeImage(name string) string {
	slash, colon := -1, -1
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '/':
			slash = i
		case ':':
			colon = i
		case '@':
			return name
		}
	}
	if colon > slash {
		return name
	}
	return name + ":latest"
}
