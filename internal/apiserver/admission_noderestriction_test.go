package apiserver

import (
	"strings"
	"testing"
)

func TestNodeLabelsANodeMaySet(t *testing.T) {
	old := map[string]string{"kubernetes.io/hostname": "n1", "node-restriction.kubernetes.io/pool": "a", "team": "x"}
	for _, tc := range []struct {
		label        string
		controlPlane bool
		bad          bool
	}{
		{"team", false, false},
		{"example.com/disk", false, false},
		{"kubernetes.io/os", false, false},
		{"topology.kubernetes.io/zone", false, false},
		{"node.kubernetes.io/instance-type", false, false},
		{"kubelet.kubernetes.io/anything", false, false},
		{"x.node.kubernetes.io/anything", false, false},
		{"node-restriction.kubernetes.io/trusted", false, true},
		{"a.node-restriction.kubernetes.io/trusted", false, true},
		{"node-role.kubernetes.io/control-plane", false, true},
		{"node-role.kubernetes.io/control-plane", true, false},
		{"node-role.kubernetes.io/worker", true, true},
		{"kubernetes.io/custom", false, true},
		{"k8s.io/custom", false, true},
		{"sub.k8s.io/custom", false, true},
	} {
		labels := map[string]string{tc.label: "v"}
		for k, v := range old {
			labels[k] = v
		}
		got := restrictedLabels(labels, old, tc.controlPlane)
		if bad := strings.Join(got, ",") == tc.label; bad != tc.bad {
			t.Errorf("setting %s (control plane %v): refused %v, want refused %v", tc.label, tc.controlPlane, got, tc.bad)
		}
	}
	// Removing an administrator's label is a change too.
	if got := restrictedLabels(map[string]string{"kubernetes.io/hostname": "n1"}, old, false); strings.Join(got, ",") != "node-restriction.kubernetes.io/pool" {
		t.Errorf("removing labels: refused %v", got)
	}
}
