package auth

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// PodIndex keeps the pods bound to each node, fed from the API server's own watch
// cache, so the node authorizer looks at a node's few dozen pods rather than all.
type PodIndex struct {
	mu     sync.RWMutex
	byNode map[string]map[string]*podRefs // node -> namespace/name -> what the pod uses
	nodeOf map[string]string              // namespace/name -> node
}

// NewPodIndex returns an empty index.
func NewPodIndex() *PodIndex {
	return &PodIndex{byNode: map[string]map[string]*podRefs{}, nodeOf: map[string]string{}}
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// Set records pod as it is now (unbound pods are not indexed). The index keeps
// only what the authorizer follows from a pod to other objects.
func (x *PodIndex) Set(pod *corev1.Pod) {
	key, node := podKey(pod), pod.Spec.NodeName
	var refs *podRefs
	if node != "" {
		refs = refsOf(pod)
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(key)
	if node == "" {
		return
	}
	m := x.byNode[node]
	if m == nil {
		m = map[string]*podRefs{}
		x.byNode[node] = m
	}
	m[key] = refs
	x.nodeOf[key] = node
}

// Delete forgets the pod namespace/name.
func (x *PodIndex) Delete(namespace, name string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(namespace + "/" + name)
}

// Reset replaces the index's contents.
func (x *PodIndex) Reset(pods []*corev1.Pod) {
	x.mu.Lock()
	x.byNode, x.nodeOf = map[string]map[string]*podRefs{}, map[string]string{}
	x.mu.Unlock()
	for _, p := range pods {
		x.Set(p)
	}
}

func (x *PodIndex) remove(key string) {
	node, ok := x.nodeOf[key]
	if !ok {
		return
	}
	delete(x.nodeOf, key)
	delete(x.byNode[node], key)
	if len(x.byNode[node]) == 0 {
		delete(x.byNode, node)
	}
}

// anyPodOn reports whether fn holds for a pod bound to node.
func (x *PodIndex) anyPodOn(node string, fn func(*podRefs) bool) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, p := range x.byNode[node] {
		if fn(p) {
			return true
		}
	}
	return false
}

// PodOn reports whether the pod namespace/name is bound to node.
func (x *PodIndex) PodOn(node, namespace, name string) bool {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return x.nodeOf[namespace+"/"+name] == node
}
