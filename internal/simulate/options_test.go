package simulate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
)

func TestParseFlags(t *testing.T) {
	o, err := ParseFlags([]string{"--kubeconfig", "k", "--nodes", "5", "--cpu", "8", "--memory", "16Gi",
		"--labels", "zone=a,disk=ssd", "--taints", "gpu=true:NoSchedule,spot:PreferNoSchedule",
		"--fail-node", "sim-3", "--extended-resources", "nvidia.com/gpu=2", "--pod-cidr", "10.200.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	if o.Nodes != 5 || o.CPU.String() != "8" || o.Memory.String() != "16Gi" || !o.FailNodes["sim-3"] || o.PodCIDR.String() != "10.200.0.0/16" {
		t.Errorf("parsed %+v", o)
	}
	if d := cmp.Diff(map[string]string{"zone": "a", "disk": "ssd"}, o.Labels); d != "" {
		t.Errorf("labels (-want +got):\n%s", d)
	}
	want := []v1.Taint{{Key: "gpu", Value: "true", Effect: v1.TaintEffectNoSchedule}, {Key: "spot", Effect: v1.TaintEffectPreferNoSchedule}}
	if d := cmp.Diff(want, o.Taints); d != "" {
		t.Errorf("taints (-want +got):\n%s", d)
	}
	if q := o.Extended["nvidia.com/gpu"]; q.String() != "2" {
		t.Errorf("gpu = %s", q.String())
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, tt := range []struct{ args, want string }{
		{"--taints gpu=true", "want key=value:Effect"},
		{"--taints gpu=true:Sometimes", "effect must be"},
		{"--labels novalue", "want key=value"},
		{"--cpu lots", "quantity"},
		{"--nodes 300 --pod-cidr 10.0.0.0/16", "room for fewer than 300"},
	} {
		_, err := ParseFlags(strings.Fields(tt.args))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.args, err, tt.want)
		}
	}
}

func TestPodIPsComeFromTheNodeSubnet(t *testing.T) {
	o, err := ParseFlags([]string{"--nodes", "2", "--pod-cidr", "10.200.0.0/16"})
	if err != nil {
		t.Fatal(err)
	}
	s := &simulator{opts: o, ours: map[string]int{"sim-0": 0, "sim-1": 1}, nextIP: map[string]int{}}
	got := []string{s.podIP("sim-0"), s.podIP("sim-0"), s.podIP("sim-1")}
	if d := cmp.Diff([]string{"10.200.0.2", "10.200.0.3", "10.200.1.2"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
