package auth

import (
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PodIndex keeps the pods bound to each node, fed from the API server's own watch
// cache, so the node authorizer looks at a node's few dozen pods rather than all.
type PodIndex struct {
	mu     sync.RWMutex
	byNode map[string]map[string]*corev1.Pod // node -> namespace/name -> pod
	nodeOf map[string]string                 // namespace/name -> node
}

// NewPodIndex returns an empty index.
func NewPodIndex() *PodIndex {
	return &PodIndex{byNode: map[string]map[string]*corev1.Pod{}, nodeOf: map[string]string{}}
}

func podKey(p *corev1.Pod) string { return p.Namespace + "/" + p.Name }

// Set records pod as it is now (unbound pods are not indexed). The index keeps
// only what the authorizer follows from a pod to other objects.
func (x *PodIndex) Set(pod *corev1.Pod) {
	pod = references(pod)
	key := podKey(pod)
	x.mu.Lock()
	defer x.mu.Unlock()
	x.remove(key)
	if pod.Spec.NodeName == "" {
		return
	}
	m := x.byNode[pod.Spec.NodeName]
	if m == nil {
		m = map[string]*corev1.Pod{}
		x.byNode[pod.Spec.NodeName] = m
	}
	m[key] = pod
	x.nodeOf[key] = pod.Spec.NodeName
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
	x.byNode, x.nodeOf = map[string]map[string]*corev1.Pod{}, map[string]string{}
	x.mu.Unlock()
	for _, p := range pods {
		x.Set(p)
	}
}

// references is the part of pod that names other objects (see podrefs.go): the
// index holds every bound pod, and a whole decoded pod is many times larger.
func references(pod *corev1.Pod) *corev1.Pod {
	out := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace}, Spec: corev1.PodSpec{
		NodeName: pod.Spec.NodeName, ServiceAccountName: pod.Spec.ServiceAccountName,
		ImagePullSecrets: pod.Spec.ImagePullSecrets, Volumes: pod.Spec.Volumes,
		InitContainers: envOnly(pod.Spec.InitContainers), Containers: envOnly(pod.Spec.Containers),
	}}
	for _, c := range pod.Spec.EphemeralContainers {
		if env := envOnly([]corev1.Container{corev1.Container(c.EphemeralContainerCommon)}); env != nil {
			out.Spec.EphemeralContainers = append(out.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(env[0])})
		}
	}
	return out
}

// envOnly keeps the containers' environment entries that refer to other objects.
func envOnly(cs []corev1.Container) []corev1.Container {
	var out []corev1.Container
	for _, c := range cs {
		var env []corev1.EnvVar
		for _, e := range c.Env {
			if e.ValueFrom != nil {
				env = append(env, corev1.EnvVar{Name: e.Name, ValueFrom: e.ValueFrom})
			}
		}
		if env != nil || c.EnvFrom != nil {
			out = append(out, corev1.Container{Name: c.Name, Env: env, EnvFrom: c.EnvFrom})
		}
	}
	return out
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

// AnyPodOn reports whether fn holds for a pod bound to node.
func (x *PodIndex) AnyPodOn(node string, fn func(*corev1.Pod) bool) bool {
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
