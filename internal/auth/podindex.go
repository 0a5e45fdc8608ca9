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
		ImagePullSecrets: pod.Spec.ImagePullSecrets, Volumes: volumeRefs(pod.Spec.Volumes),
		InitContainers: envOnly(pod.Spec.InitContainers), Containers: envOnly(pod.Spec.Containers),
	}}
	for _, c := range pod.Spec.EphemeralContainers {
		if env := envOnly([]corev1.Container{corev1.Container(c.EphemeralContainerCommon)}); env != nil {
			out.Spec.EphemeralContainers = append(out.Spec.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(env[0])})
		}
	}
	return out
}

// volumeRefs keeps the volumes that name other objects (see podrefs.go), copied
// so the index does not hold on to the decoded pod's: a projected volume keeps
// only its Secret and ConfigMap sources (every pod has one, of which the
// service account token and downward API parts are most), an Ephemeral volume
// only its name (its claim is named after the pod and it).
func volumeRefs(vs []corev1.Volume) []corev1.Volume {
	var out []corev1.Volume
	for _, v := range vs {
		src := v.VolumeSource
		var kept corev1.VolumeSource
		switch {
		case src.Projected != nil:
			var sources []corev1.VolumeProjection
			for _, p := range src.Projected.Sources {
				switch { // the reference, without its items
				case p.Secret != nil:
					sources = append(sources, corev1.VolumeProjection{Secret: &corev1.SecretProjection{LocalObjectReference: p.Secret.LocalObjectReference}})
				case p.ConfigMap != nil:
					sources = append(sources, corev1.VolumeProjection{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: p.ConfigMap.LocalObjectReference}})
				}
			}
			if sources == nil {
				continue
			}
			kept.Projected = &corev1.ProjectedVolumeSource{Sources: sources}
		case src.Ephemeral != nil:
			kept.Ephemeral = &corev1.EphemeralVolumeSource{}
		case src.Secret != nil:
			kept.Secret = &corev1.SecretVolumeSource{SecretName: src.Secret.SecretName}
		case src.ConfigMap != nil:
			kept.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: src.ConfigMap.LocalObjectReference}
		case src.PersistentVolumeClaim != nil, src.CSI != nil, src.ISCSI != nil, src.RBD != nil, src.CephFS != nil,
			src.FlexVolume != nil, src.AzureFile != nil:
			kept = src // rare, and small beside a pod
		default:
			continue
		}
		out = append(out, corev1.Volume{Name: v.Name, VolumeSource: kept})
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
