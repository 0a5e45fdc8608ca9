package framework

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

func ixNode(name string, kv ...string) *NodeInfo {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{}}}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Labels[kv[i]] = kv[i+1]
	}
	return NewNodeInfo(n)
}

func ixPod(ns, name string, kv ...string) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "/" + name), Labels: map[string]string{}}}
	for i := 0; i+1 < len(kv); i += 2 {
		p.Labels[kv[i]] = kv[i+1]
	}
	return p
}

func withAntiTerm(p *v1.Pod, t v1.PodAffinityTerm) *v1.Pod {
	p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{
		RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{t}}}
	return p
}

func appTerm(app string) v1.PodAffinityTerm {
	return v1.PodAffinityTerm{TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}}
}

// ixNamespaces labels the namespaces for namespaceSelector terms.
func ixNamespaces(ns string) labels.Set {
	return map[string]labels.Set{"default": {"env": "prod"}, "other": {"env": "dev"}}[ns]
}

// names lists the pods fn reports, sorted, as ns/name@node; "fallback" when the
// index declined.
func names(answer func(func(*PodInfo, *NodeInfo)) bool) []string {
	out := []string{}
	if !answer(func(pi *PodInfo, ni *NodeInfo) {
		out = append(out, pi.Pod.Namespace+"/"+pi.Pod.Name+"@"+ni.Name())
	}) {
		return []string{"fallback"}
	}
	slices.Sort(out)
	return out
}

func TestPodIndexMatchingPods(t *testing.T) {
	a, b := ixNode("a", "zone", "z1"), ixNode("b", "zone", "z2")
	x := NewPodIndex()
	add := func(ni *NodeInfo, p *v1.Pod) *PodInfo {
		pi := NewPodInfo(p)
		ni.AddPod(pi)
		x.AddPod(pi, ni)
		return pi
	}
	add(a, ixPod("default", "web-1", "app", "web", "tier", "front"))
	web2 := add(b, ixPod("default", "web-2", "app", "web"))
	add(b, ixPod("other", "web-3", "app", "web"))
	add(a, ixPod("default", "db", "app", "db"))
	// web-2 is updated: removed with its old labels, added with new ones.
	x.RemovePod(web2, b)
	add(b, ixPod("default", "web-2", "app", "web", "tier", "back"))

	sel := func(s string) *LabelMatcher {
		ls, err := metav1.ParseToLabelSelector(s)
		if err != nil {
			t.Fatal(err)
		}
		m := NewLabelMatcher(must(metav1.LabelSelectorAsSelector(ls)))
		return &m
	}
	term := func(pt v1.PodAffinityTerm) *AffinityTerm {
		pi := NewPodInfo(withAntiTerm(ixPod("default", "new"), pt))
		if pi.ParseError != nil {
			t.Fatal(pi.ParseError)
		}
		return &pi.RequiredAntiAffinityTerms[0]
	}
	tests := []struct {
		name   string
		answer func(func(*PodInfo, *NodeInfo)) bool
		want   []string
	}{
		{"one label", func(fn func(*PodInfo, *NodeInfo)) bool { return x.MatchingPods("default", sel("app=web"), fn) },
			[]string{"default/web-1@a", "default/web-2@b"}},
		{"two labels, updated pod", func(fn func(*PodInfo, *NodeInfo)) bool {
			return x.MatchingPods("default", sel("app=web,tier=back"), fn)
		}, []string{"default/web-2@b"}},
		{"old label value is gone", func(fn func(*PodInfo, *NodeInfo)) bool {
			return x.MatchingPods("default", sel("app=web,tier=front"), fn)
		}, []string{"default/web-1@a"}},
		{"other namespace", func(fn func(*PodInfo, *NodeInfo)) bool { return x.MatchingPods("other", sel("app=web"), fn) },
			[]string{"other/web-3@b"}},
		{"empty selector: the whole namespace", func(fn func(*PodInfo, *NodeInfo)) bool { return x.MatchingPods("default", sel(""), fn) },
			[]string{"default/db@a", "default/web-1@a", "default/web-2@b"}},
		{"no such label", func(fn func(*PodInfo, *NodeInfo)) bool { return x.MatchingPods("default", sel("app=cache"), fn) },
			[]string{}},
		{"set-based selector falls back", func(fn func(*PodInfo, *NodeInfo)) bool {
			return x.MatchingPods("default", sel("app in (web,db)"), fn)
		}, []string{"fallback"}},
		{"term: own namespace by default", func(fn func(*PodInfo, *NodeInfo)) bool {
			return x.TermMatchingPods(term(appTerm("web")), ixNamespaces, fn)
		}, []string{"default/web-1@a", "default/web-2@b"}},
		{"term: namespaces list", func(fn func(*PodInfo, *NodeInfo)) bool {
			pt := appTerm("web")
			pt.Namespaces = []string{"other"}
			return x.TermMatchingPods(term(pt), ixNamespaces, fn)
		}, []string{"other/web-3@b"}},
		{"term: namespaceSelector", func(fn func(*PodInfo, *NodeInfo)) bool {
			pt := appTerm("web")
			pt.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"env": "dev"}}
			return x.TermMatchingPods(term(pt), ixNamespaces, fn)
		}, []string{"other/web-3@b"}},
		{"term: empty namespaceSelector covers all", func(fn func(*PodInfo, *NodeInfo)) bool {
			pt := appTerm("web")
			pt.NamespaceSelector = &metav1.LabelSelector{}
			return x.TermMatchingPods(term(pt), ixNamespaces, fn)
		}, []string{"default/web-1@a", "default/web-2@b", "other/web-3@b"}},
		{"term: matchExpressions fall back", func(fn func(*PodInfo, *NodeInfo)) bool {
			pt := appTerm("web")
			pt.LabelSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "app", Operator: metav1.LabelSelectorOpExists}}}
			return x.TermMatchingPods(term(pt), ixNamespaces, fn)
		}, []string{"fallback"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, names(tt.answer)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	t.Run("pods of a deleted node are skipped", func(t *testing.T) {
		b.Node = nil
		defer func() { b.SetNode(&v1.Node{ObjectMeta: metav1.ObjectMeta{Name: "b"}}) }()
		got := names(func(fn func(*PodInfo, *NodeInfo)) bool { return x.MatchingPods("default", sel("app=web"), fn) })
		if d := cmp.Diff([]string{"default/web-1@a"}, got); d != "" {
			t.Errorf("(-want +got):\n%s", d)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// terms lists the matching distinct terms as "topologyKey: node=count ...".
func terms(x *PodIndex, kind TermKind, pod *v1.Pod) []string {
	out := []string{}
	x.MatchingTerms(kind, pod, ixNamespaces, func(it *IndexedTerm) {
		var nodes []string
		for ni, c := range it.Nodes {
			nodes = append(nodes, ni.Name()+"="+strconv.FormatInt(c, 10))
		}
		slices.Sort(nodes)
		out = append(out, it.Term.TopologyKey+":"+it.Term.Selector.String()+" "+strings.Join(nodes, ","))
	})
	slices.Sort(out)
	return out
}

func TestPodIndexTerms(t *testing.T) {
	a, b := ixNode("a", "zone", "z1"), ixNode("b", "zone", "z2")
	exists := v1.PodAffinityTerm{TopologyKey: "zone", LabelSelector: &metav1.LabelSelector{
		MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: metav1.LabelSelectorOpExists}}}}
	otherNS := appTerm("web")
	otherNS.Namespaces = []string{"other"}
	pods := []struct {
		ni  *NodeInfo
		pod *v1.Pod
	}{
		{a, withAntiTerm(ixPod("default", "db-1"), appTerm("web"))},
		{a, withAntiTerm(ixPod("default", "db-2"), appTerm("web"))},
		{b, withAntiTerm(ixPod("default", "db-3"), appTerm("web"))},
		{b, withAntiTerm(ixPod("default", "cache"), exists)},
		{a, withAntiTerm(ixPod("default", "x"), appTerm("db"))},
		{b, withAntiTerm(ixPod("default", "y"), otherNS)},
	}
	x := NewPodIndex()
	infos := make([]*PodInfo, len(pods))
	for i, p := range pods {
		infos[i] = NewPodInfo(p.pod)
		x.AddPod(infos[i], p.ni)
	}
	web := ixPod("default", "web", "app", "web")
	tests := []struct {
		name   string
		remove []int
		kind   TermKind
		pod    *v1.Pod
		want   []string
	}{
		{"one entry per distinct term, counted per node, plus unprobed terms", nil, TermRequiredAnti, web,
			[]string{"zone:app b=1", "zone:app=web a=2,b=1"}},
		{"other kinds are separate", nil, TermRequiredAffinity, web, []string{}},
		{"a pod in another namespace", nil, TermRequiredAnti, ixPod("other", "web", "app", "web"),
			[]string{"zone:app=web b=1"}},
		{"removal decrements and drops empty nodes and terms", []int{0, 2, 3}, TermRequiredAnti, web,
			[]string{"zone:app=web a=1"}},
		{"nothing matches an unlabelled pod", nil, TermRequiredAnti, ixPod("default", "bare"), []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, i := range tt.remove {
				x.RemovePod(infos[i], pods[i].ni)
			}
			defer func() {
				for _, i := range tt.remove {
					x.AddPod(infos[i], pods[i].ni)
				}
			}()
			if d := cmp.Diff(tt.want, terms(x, tt.kind, tt.pod)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	t.Run("live terms", func(t *testing.T) {
		if !x.HasLiveTerms(TermRequiredAnti) || x.HasLiveTerms(TermPreferredAnti) {
			t.Errorf("HasLiveTerms: want anti only")
		}
	})
}

func TestPodIndexNodeLabels(t *testing.T) {
	n := func(name string, kv ...string) *v1.Node { return ixNode(name, kv...).Node }
	x := NewPodIndex()
	n1, n2, n3 := n("1", "zone", "z1", "host", "1"), n("2", "zone", "z1", "host", "2"), n("3", "zone", "z2", "host", "3")
	n4 := n("4", "zone", "z3") // no host label: outside the {host, zone} combination
	for _, node := range []*v1.Node{n1, n2, n3, n4} {
		x.AddNode(node)
	}
	type counts struct {
		Hosts, Zones, ZoneNodes, Disk int
		// among nodes with both host and zone: how many, and their zones
		BothNodes, BothZones int
	}
	get := func() counts {
		both, zones, ok := x.Domains([]string{"zone", "host", "zone"}, "zone")
		if !ok {
			t.Fatal("Domains declined a second key set")
		}
		return counts{x.LabelValues("host"), x.LabelValues("zone"), x.NodesWithLabel("zone"), x.NodesWithLabel("disk"), both, zones}
	}
	steps := []struct {
		name string
		do   func()
		want counts
	}{
		{"four nodes", func() {}, counts{3, 3, 4, 0, 3, 2}},
		{"node 3 relabelled into z1 with a disk", func() {
			x.RemoveNode(n3)
			n3 = n("3", "zone", "z1", "host", "3", "disk", "ssd")
			x.AddNode(n3)
		}, counts{3, 2, 4, 1, 3, 1}},
		{"node 4 gains a host label", func() {
			x.RemoveNode(n4)
			n4 = n("4", "zone", "z3", "host", "4")
			x.AddNode(n4)
		}, counts{4, 2, 4, 1, 4, 2}},
		{"node 1 deleted", func() { x.RemoveNode(n1) }, counts{3, 2, 3, 1, 3, 2}},
	}
	for _, s := range steps {
		s.do()
		if d := cmp.Diff(s.want, get()); d != "" {
			t.Errorf("%s (-want +got):\n%s", s.name, d)
		}
	}
}

func TestPodIndexKeySetLimit(t *testing.T) {
	x := NewPodIndex()
	for i := range maxKeySets {
		if _, _, ok := x.Domains([]string{"a", strconv.Itoa(i)}, "a"); !ok {
			t.Fatalf("key set %d declined", i)
		}
	}
	if _, _, ok := x.Domains([]string{"a", "b"}, "a"); ok {
		t.Errorf("key set past the limit accepted")
	}
	if _, _, ok := x.Domains([]string{"a", "0"}, "a"); !ok {
		t.Errorf("known key set declined")
	}
	if _, _, ok := x.Domains([]string{"a", "a"}, "a"); !ok {
		t.Errorf("a single key declined")
	}
}
