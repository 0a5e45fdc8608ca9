package framework

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestNodeInfoLabel(t *testing.T) {
	labelled := func(kv ...string) *v1.Node {
		n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n", Labels: map[string]string{}}}
		for i := 0; i+1 < len(kv); i += 2 {
			n.Labels[kv[i]] = kv[i+1]
		}
		return n
	}
	type got struct {
		V  string
		OK bool
	}
	tests := []struct {
		name string
		ni   func() *NodeInfo
		key  string
		want got
	}{
		{"hostname", func() *NodeInfo { return NewNodeInfo(labelled(v1.LabelHostname, "h1")) }, v1.LabelHostname, got{"h1", true}},
		{"empty zone value is present", func() *NodeInfo { return NewNodeInfo(labelled(v1.LabelTopologyZone, "")) },
			v1.LabelTopologyZone, got{"", true}},
		{"missing zone", func() *NodeInfo { return NewNodeInfo(labelled()) }, v1.LabelTopologyZone, got{}},
		{"other keys come from the map", func() *NodeInfo { return NewNodeInfo(labelled("disk", "ssd")) }, "disk", got{"ssd", true}},
		{"SetNode refreshes the copies", func() *NodeInfo {
			ni := NewNodeInfo(labelled(v1.LabelHostname, "old"))
			ni.SetNode(labelled(v1.LabelHostname, "new"))
			return ni
		}, v1.LabelHostname, got{"new", true}},
		{"a node assigned directly is read from its map", func() *NodeInfo {
			ni := NewNodeInfo(labelled(v1.LabelHostname, "old"))
			ni.Node = labelled(v1.LabelHostname, "direct")
			return ni
		}, v1.LabelHostname, got{"direct", true}},
		{"clones keep them", func() *NodeInfo { return NewNodeInfo(labelled(v1.LabelTopologyZone, "z1")).Clone() },
			v1.LabelTopologyZone, got{"z1", true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := tt.ni().Label(tt.key)
			if (got{v, ok}) != tt.want {
				t.Errorf("Label(%q) = %q, %v; want %q, %v", tt.key, v, ok, tt.want.V, tt.want.OK)
			}
		})
	}
}
