package volume

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// claimPath finds the host directory of the PersistentVolume bound to a claim.
// Only hostPath and local volumes can be used by this node; a bound claim's path
// never changes, so it is looked up once per pod. The claim of a generic ephemeral
// volume (ephemeral) must be owned by the pod: a claim that merely has its name is
// someone else's data.
func (m *Manager) claimPath(ctx context.Context, pod *corev1.Pod, volume, claimName string, readOnly, ephemeral bool) (string, error) {
	key := string(pod.UID) + "/" + volume
	m.mu.Lock()
	path, ok := m.claims[key]
	m.mu.Unlock()
	if ok {
		return path, nil
	}
	claim, err := m.cfg.Client.CoreV1().PersistentVolumeClaims(pod.Namespace).Get(ctx, claimName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("persistentvolumeclaim %q not found", claimName)
	}
	if err != nil {
		return "", err
	}
	if ephemeral && !metav1.IsControlledBy(claim, pod) {
		return "", fmt.Errorf("persistentvolumeclaim %q was not created for this pod (the pod is not its owner)", claimName)
	}
	pv, err := m.boundVolume(ctx, claim)
	if err != nil {
		return "", err
	}
	if pv.Spec.CSI != nil && m.cfg.CSI != nil {
		path = csiTarget(m.cfg.Root, pod.UID, volume)
		err = m.cfg.CSI.PublishVolume(ctx, pod, volume, pv, readOnly, path)
	} else {
		path, err = volumePath(pv)
	}
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	m.claims[key] = path
	m.mu.Unlock()
	return path, nil
}

func (m *Manager) boundVolume(ctx context.Context, claim *corev1.PersistentVolumeClaim) (*corev1.PersistentVolume, error) {
	if claim.Spec.VolumeName == "" {
		return nil, fmt.Errorf("persistentvolumeclaim %q is not bound to a persistentvolume", claim.Name)
	}
	pv, err := m.cfg.Client.CoreV1().PersistentVolumes().Get(ctx, claim.Spec.VolumeName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("persistentvolume %q of claim %q not found", claim.Spec.VolumeName, claim.Name)
	}
	if err != nil {
		return nil, err
	}
	if ref := pv.Spec.ClaimRef; ref != nil && (ref.Name != claim.Name || ref.Namespace != claim.Namespace || (ref.UID != "" && ref.UID != claim.UID)) {
		return nil, fmt.Errorf("persistentvolume %q is bound to another claim (%s/%s)", pv.Name, ref.Namespace, ref.Name)
	}
	return pv, nil
}

// csiTarget is where a pod's CSI volume is published.
func csiTarget(root string, uid types.UID, volume string) string {
	return filepath.Join(Dir(root, uid, PluginCSI, volume), "mount")
}

// volumePath is where a hostPath or local PersistentVolume lives on this node.
func volumePath(pv *corev1.PersistentVolume) (string, error) {
	switch {
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path, CheckHostPath(pv.Spec.HostPath.Path, pv.Spec.HostPath.Type)
	case pv.Spec.Local != nil:
		if _, err := os.Stat(pv.Spec.Local.Path); err != nil {
			return "", fmt.Errorf("local persistentvolume %q: %w", pv.Name, err)
		}
		return pv.Spec.Local.Path, nil
	}
	return "", fmt.Errorf("persistentvolume %q: only hostPath, local and CSI volumes can be mounted on this node", pv.Name)
}
