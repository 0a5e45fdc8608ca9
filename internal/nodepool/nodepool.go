// Package nodepool is the small node group protocol between `skiff simulate` (the
// "cloud provider") and the cluster autoscaler, modelled on a cloud's node group API.
//
// The provider publishes ConfigMap kube-system/skiff-node-pools:
//
//	pools:          JSON list of pool templates (name, capacity, labels, taints, min, max);
//	                written by the provider only
//	desired.<pool>: the pool's target size; the autoscaler writes it, the provider
//	                creates or deletes nodes to match it
//
// Every node of a pool carries the label skiff.io/node-pool=<pool>. To remove a chosen
// node the autoscaler taints it ToBeDeletedByClusterAutoscaler, drains it and lowers
// desired by one; the provider deletes tainted nodes first when it shrinks a pool.
// Optional autoscaler settings live in the same ConfigMap: scan-interval,
// scale-down-unneeded-time and new-pod-scale-up-delay (Go durations).
package nodepool

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The protocol's names.
const (
	Namespace     = "kube-system"
	ConfigMapName = "skiff-node-pools"
	PoolsKey      = "pools"
	DesiredPrefix = "desired."
	// Label names a node's pool.
	Label = "skiff.io/node-pool"
	// ToBeDeletedTaint marks a node the autoscaler is removing (the real one's name).
	ToBeDeletedTaint = "ToBeDeletedByClusterAutoscaler"
)

// Pool is one node group: a template node and its size bounds.
type Pool struct {
	Name     string            `json:"name"`
	Capacity v1.ResourceList   `json:"capacity"`
	Labels   map[string]string `json:"labels,omitempty"`
	Taints   []v1.Taint        `json:"taints,omitempty"`
	Min      int               `json:"min"`
	Max      int               `json:"max"`
}

// Parse reads a --pool value: name=big,cpu=8,memory=32Gi,pods=110,min=1,max=20
// with optional labels=k=v;k2=v2 and taints=k=v:NoSchedule;k2:NoExecute.
func Parse(spec string) (Pool, error) {
	p := Pool{Capacity: v1.ResourceList{
		v1.ResourcePods: resource.MustParse("110"), v1.ResourceEphemeralStorage: resource.MustParse("100Gi")}}
	maxSet := false
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return p, fmt.Errorf("--pool %q: %q is not key=value", spec, kv)
		}
		var err error
		switch k {
		case "name":
			p.Name = v
		case "cpu", "memory", "pods", "ephemeral-storage":
			var q resource.Quantity
			if q, err = resource.ParseQuantity(v); err == nil {
				p.Capacity[v1.ResourceName(k)] = q
			}
		case "min":
			p.Min, err = strconv.Atoi(v)
		case "max":
			p.Max, err = strconv.Atoi(v)
			maxSet = true
		case "labels":
			p.Labels, err = ParseLabels(strings.ReplaceAll(v, ";", ","))
		case "taints":
			p.Taints, err = ParseTaints(strings.ReplaceAll(v, ";", ","))
		default:
			err = fmt.Errorf("unknown key (want name, cpu, memory, pods, ephemeral-storage, min, max, labels, taints)")
		}
		if err != nil {
			return p, fmt.Errorf("--pool %q: %s: %w", spec, k, err)
		}
	}
	if !maxSet {
		return p, fmt.Errorf("--pool %q: max is required", spec)
	}
	return p, p.Validate()
}

// Validate refuses pools no provider could honour.
func (p Pool) Validate() error {
	if errs := validation.IsDNS1123Label(p.Name); len(errs) > 0 {
		return fmt.Errorf("pool name %q: %s", p.Name, strings.Join(errs, "; "))
	}
	for _, r := range []v1.ResourceName{v1.ResourceCPU, v1.ResourceMemory} {
		if q, ok := p.Capacity[r]; !ok || q.Sign() <= 0 {
			return fmt.Errorf("pool %s: %s must be set and positive", p.Name, r)
		}
	}
	switch {
	case p.Min < 0:
		return fmt.Errorf("pool %s: min %d must not be negative", p.Name, p.Min)
	case p.Max < 1:
		return fmt.Errorf("pool %s: max %d must be at least 1", p.Name, p.Max)
	case p.Min > p.Max:
		return fmt.Errorf("pool %s: min %d is greater than max %d", p.Name, p.Min, p.Max)
	}
	return nil
}

// Template is the node a new member of the pool would be, named name.
func (p Pool) Template(name string) *v1.Node {
	labels := map[string]string{v1.LabelHostname: name, v1.LabelOSStable: "linux",
		v1.LabelArchStable: "amd64", Label: p.Name}
	for k, v := range p.Labels {
		labels[k] = v
	}
	return &v1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
		Spec:       v1.NodeSpec{Taints: append([]v1.Taint(nil), p.Taints...)},
		Status: v1.NodeStatus{Capacity: p.Capacity.DeepCopy(), Allocatable: p.Capacity.DeepCopy(),
			Conditions: []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}},
	}
}

// Read decodes the pools and their desired sizes (a pool without one is at min).
func Read(cm *v1.ConfigMap) ([]Pool, map[string]int, error) {
	var pools []Pool
	if err := json.Unmarshal([]byte(cm.Data[PoolsKey]), &pools); err != nil {
		return nil, nil, fmt.Errorf("%s/%s: %s: %w", cm.Namespace, cm.Name, PoolsKey, err)
	}
	desired := map[string]int{}
	for _, p := range pools {
		if err := p.Validate(); err != nil {
			return nil, nil, err
		}
		n, err := strconv.Atoi(cm.Data[DesiredPrefix+p.Name])
		if err != nil {
			n = p.Min
		}
		desired[p.Name] = min(max(n, p.Min), p.Max)
	}
	return pools, desired, nil
}

// Encode stores pools into cm's data, keeping desired sizes already there (clamped
// to the new bounds) so a restarted provider does not undo the autoscaler's work.
func Encode(cm *v1.ConfigMap, pools []Pool) error {
	b, err := json.Marshal(pools)
	if err != nil {
		return err
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[PoolsKey] = string(b)
	for _, p := range pools {
		n, err := strconv.Atoi(cm.Data[DesiredPrefix+p.Name])
		if err != nil {
			n = p.Min
		}
		cm.Data[DesiredPrefix+p.Name] = strconv.Itoa(min(max(n, p.Min), p.Max))
	}
	return nil
}

// ParseLabels reads k=v,... pairs.
func ParseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range splitList(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// ParseTaints reads key[=value]:Effect entries.
func ParseTaints(s string) ([]v1.Taint, error) {
	var out []v1.Taint
	for _, t := range splitList(s) {
		kv, effect, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("taint %q: want key=value:Effect", t)
		}
		e := v1.TaintEffect(effect)
		if e != v1.TaintEffectNoSchedule && e != v1.TaintEffectPreferNoSchedule && e != v1.TaintEffectNoExecute {
			return nil, fmt.Errorf("taint %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", t)
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("taint %q: empty key", t)
		}
		out = append(out, v1.Taint{Key: k, Value: v, Effect: e})
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
