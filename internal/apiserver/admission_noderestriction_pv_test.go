package apiserver

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func affinity(key, value string) *corev1.VolumeNodeAffinity {
	return &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: key, Operator: corev1.NodeSelectorOpIn, Values: []string{value}}}}}}}
}

func TestPinnedTo(t *testing.T) {
	csi := corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "d", VolumeHandle: "h"}}
	local := corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/x"}}
	for _, tc := range []struct {
		name string
		spec corev1.PersistentVolumeSpec
		want bool
	}{
		{"local on the node", corev1.PersistentVolumeSpec{PersistentVolumeSource: local, NodeAffinity: affinity(corev1.LabelHostname, "n1")}, true},
		{"local elsewhere", corev1.PersistentVolumeSpec{PersistentVolumeSource: local, NodeAffinity: affinity(corev1.LabelHostname, "n2")}, false},
		{"local by another key", corev1.PersistentVolumeSpec{PersistentVolumeSource: local, NodeAffinity: affinity("zone", "n1")}, false},
		{"csi with the node as topology", corev1.PersistentVolumeSpec{PersistentVolumeSource: csi, NodeAffinity: affinity("topology.hostpath.csi/node", "n1")}, true},
		{"csi on another node", corev1.PersistentVolumeSpec{PersistentVolumeSource: csi, NodeAffinity: affinity("topology.hostpath.csi/node", "n2")}, false},
		{"csi without topology", corev1.PersistentVolumeSpec{PersistentVolumeSource: csi}, false},
		{"hostPath", corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}},
			NodeAffinity: affinity(corev1.LabelHostname, "n1")}, false},
	} {
		if got := pinnedTo(&corev1.PersistentVolume{Spec: tc.spec}, "n1"); got != tc.want {
			t.Errorf("%s: pinnedTo = %v, want %v", tc.name, got, tc.want)
		}
	}
}
