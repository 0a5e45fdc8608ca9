// Package volume prepares a pod's volumes on the node, under the agent's root
// directory, and turns a container's volumeMounts into CRI mounts. The layout follows
// Kubernetes' kubelet so that an operator finds things where they expect them:
//
//	<root>/pods/<pod uid>/volumes/<plugin>/<volume name>
//
// emptyDir, configMap, secret, downwardAPI and projected volumes live there, and
// image volumes are mounted there;
// hostPath and persistentVolumeClaim volumes are bind-mounted from where they are.
package volume

import (
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Plugin directory names, as Kubernetes spells them.
const (
	PluginEmptyDir  = "kubernetes.io~empty-dir"
	PluginConfigMap = "kubernetes.io~configmap"
	PluginSecret    = "kubernetes.io~secret"
	PluginDownward  = "kubernetes.io~downward-api"
	PluginProjected = "kubernetes.io~projected"
	PluginCSI       = "kubernetes.io~csi"
	// PluginImage is skiff's own: Kubernetes leaves image volumes to the runtime,
	// which here cannot mount them.
	PluginImage = "kubernetes.io~image"
)

// PodDir is the directory that holds everything of one pod.
func PodDir(root string, uid types.UID) string {
	return filepath.Join(root, "pods", string(uid))
}

// VolumesDir holds the pod's volumes, one directory per plugin.
func VolumesDir(root string, uid types.UID) string {
	return filepath.Join(PodDir(root, uid), "volumes")
}

// Dir is where a volume of the given plugin lives on the host.
func Dir(root string, uid types.UID, plugin, name string) string {
	return filepath.Join(VolumesDir(root, uid), plugin, name)
}

// pluginOf names the directory a volume source is prepared in, or "" for sources
// that are used in place (hostPath, persistentVolumeClaim) or not supported.
func pluginOf(vs *corev1.VolumeSource) string {
	switch {
	case vs.EmptyDir != nil:
		return PluginEmptyDir
	case vs.ConfigMap != nil:
		return PluginConfigMap
	case vs.Secret != nil:
		return PluginSecret
	case vs.DownwardAPI != nil:
		return PluginDownward
	case vs.Projected != nil:
		return PluginProjected
	case vs.Image != nil:
		return PluginImage
	}
	return ""
}
