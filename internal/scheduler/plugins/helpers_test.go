package plugins

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	fw "skiff/internal/scheduler/framework"
)

// node builds a node with cpu/memory/pods allocatable and labels k=v pairs.
func node(name, cpu, mem string, kv ...string) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{v1.LabelHostname: name}}}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Labels[kv[i]] = kv[i+1]
	}
	n.Status.Allocatable = v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu),
		v1.ResourceMemory: resource.MustParse(mem), v1.ResourcePods: resource.MustParse("110")}
	return n
}

// pod builds a pod in "default" with one container requesting cpu/mem (empty: none).
func pod(name, cpu, mem string, kv ...string) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", UID: types.UID(name), Labels: map[string]string{}}}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Labels[kv[i]] = kv[i+1]
	}
	req := v1.ResourceList{}
	if cpu != "" {
		req[v1.ResourceCPU] = resource.MustParse(cpu)
	}
	if mem != "" {
		req[v1.ResourceMemory] = resource.MustParse(mem)
	}
	p.Spec.Containers = []v1.Container{{Name: "c", Image: "img", Resources: v1.ResourceRequirements{Requests: req}}}
	return p
}

// nodeInfo builds a NodeInfo with pods placed on it.
func nodeInfo(n *v1.Node, pods ...*v1.Pod) *fw.NodeInfo {
	ni := fw.NewNodeInfo(n)
	for _, p := range pods {
		p.Spec.NodeName = n.Name
		ni.AddPod(fw.NewPodInfo(p))
	}
	return ni
}

// snapshot is a minimal fw.Snapshot over a list of NodeInfos.
type snapshot []*fw.NodeInfo

func (s snapshot) List() []*fw.NodeInfo { return s }
func (s snapshot) Get(name string) *fw.NodeInfo {
	for _, n := range s {
		if n.Name() == name {
			return n
		}
	}
	return nil
}
func (s snapshot) HavePodsWithAffinity() []*fw.NodeInfo {
	var out []*fw.NodeInfo
	for _, n := range s {
		if len(n.PodsWithAffinity) > 0 {
			out = append(out, n)
		}
	}
	return out
}
func (s snapshot) HavePodsWithRequiredAntiAffinity() []*fw.NodeInfo {
	var out []*fw.NodeInfo
	for _, n := range s {
		if len(n.PodsWithRequiredAntiAffinity) > 0 {
			out = append(out, n)
		}
	}
	return out
}

// Index builds the index over the nodes, so plugin tests take the indexed path
// (scanSnapshot in index_equiv_test.go hides it to test the scans).
func (s snapshot) Index() *fw.PodIndex { return fw.BuildPodIndex(s) }

func (s snapshot) ImageNodeCount(image string) int {
	c := 0
	for _, n := range s {
		if _, ok := n.ImageSizes[image]; ok {
			c++
		}
	}
	return c
}

// verdict is a status reduced to what tests compare.
type verdict struct {
	Code    fw.Code
	Reasons []string
}

func toVerdict(st *fw.Status) verdict {
	if st == nil {
		return verdict{}
	}
	return verdict{st.Code, st.Reasons}
}

var fits = verdict{}

func reject(code fw.Code, reasons ...string) verdict { return verdict{code, reasons} }

// runFilter runs PreFilter (if any) then Filter for pod on every node of snap and
// returns the verdict per node name.
func runFilter(t *testing.T, pl fw.FilterPlugin, p *v1.Pod, snap snapshot) map[string]verdict {
	t.Helper()
	pi := fw.NewPodInfo(p)
	state := fw.NewCycleState()
	out := map[string]verdict{}
	if pf, ok := pl.(fw.PreFilterPlugin); ok {
		st := pf.PreFilter(context.Background(), state, pi, snap)
		if st.IsSkip() {
			for _, n := range snap {
				out[n.Name()] = fits
			}
			return out
		}
		if !st.IsSuccess() {
			for _, n := range snap {
				out[n.Name()] = toVerdict(st)
			}
			return out
		}
	}
	for _, n := range snap {
		out[n.Name()] = toVerdict(pl.Filter(state, pi, n))
	}
	return out
}

func diff(t *testing.T, want, got any) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("mismatch (-want +got):\n%s", d)
	}
}
