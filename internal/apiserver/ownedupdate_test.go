package apiserver

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/managedfields"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"skiff/internal/resources"
)

// mutation is one write a component makes: manager changes obj through
// subresource.
type mutation struct {
	name, manager, subresource string
	change                     func(r *rand.Rand, obj runtime.Object)
}

// TestOwnedUpdatesMatchLibrary writes long random sequences of the writes
// kubelets and controllers make to Leases, Nodes and Pods, each through the
// library's field manager, and wherever the fast path answers, requires its
// managed fields to equal the library's byte for byte. It also requires the fast
// path to answer for heartbeats, which are what it is for.
func TestOwnedUpdatesMatchLibrary(t *testing.T) {
	cases := []struct {
		resource  string
		obj       func() runtime.Object
		mutations []mutation
		// fast are the mutations the fast path must answer at least once.
		fast []string
	}{
		{"leases", testLease, leaseMutations(), []string{"renew", "holder", "nothing"}},
		{"nodes", testNode, nodeMutations(), []string{"heartbeat", "ready", "images"}},
		{"pods", testPodRunning, podMutations(), []string{"probe", "containers", "phase"}},
	}
	tc := newTypeConverter(newBuiltinTypes())
	for _, c := range cases {
		c.mutations = append(c.mutations, rewriteManagedFields()...)
		t.Run(c.resource, func(t *testing.T) {
			info := infoFor(t, c.resource)
			managers, err := newManagers(tc, info)
			if err != nil {
				t.Fatal(err)
			}
			owned := newOwnedUpdates(tc, info)
			answered := map[string]int{}
			declined := 0
			for seed := range uint64(20) {
				r := rand.New(rand.NewPCG(seed, 7))
				live := c.obj()
				live.GetObjectKind().SetGroupVersionKind(info.StorageGVK())
				m, _ := meta.Accessor(live)
				m.SetUID("uid-1")
				live = managers[""].UpdateNoErrors(emptyOf(t, info), live, "creator")
				for step := 0; step < 150; step++ {
					mu := c.mutations[r.IntN(len(c.mutations))]
					shuffleTimes(r, live)
					switch r.IntN(10) { // as another writer might have stored them
					case 0:
						respace(r, live)
					case 1:
						duplicate(r, live)
					}
					obj := live.DeepCopyObject()
					mu.change(r, obj)
					om, _ := meta.Accessor(obj)
					if r.IntN(4) == 0 {
						om.SetManagedFields(nil) // clients may leave them out
					}
					if r.IntN(2) == 0 {
						om.SetGeneration(om.GetGeneration() + 1) // as a change of spec does
					}
					want, got, ok := both(t, managers, owned, live, obj, mu)
					if !ok {
						declined++
					} else {
						answered[mu.name]++
						if want != got {
							t.Fatalf("seed %d step %d (%s by %s): managed fields differ\nlibrary: %s\nfast:    %s", seed, step, mu.name, mu.manager, want, got)
						}
					}
					live = managers[subresourceOf(managers, mu)].UpdateNoErrors(live, obj, mu.manager)
				}
			}
			for _, name := range c.fast {
				if answered[name] == 0 {
					t.Errorf("the fast path never answered %q", name)
				}
			}
			if declined == 0 {
				t.Error("the fast path never declined: the sequences do not exercise the library's own path")
			}
			t.Logf("answered %v, declined %d", answered, declined)
		})
	}
}

// both runs one update through the library and the fast path and returns each
// one's managed fields, encoded.
func both(t *testing.T, managers map[string]*managedfields.FieldManager, owned *ownedUpdates, live, obj runtime.Object, mu mutation) (string, string, bool) {
	t.Helper()
	sub := subresourceOf(managers, mu)
	for try := 0; ; try++ {
		before := time.Now()
		lib := managers[sub].UpdateNoErrors(live, obj.DeepCopyObject(), mu.manager)
		now := time.Now()
		entries, ok := owned.update(live, obj.DeepCopyObject(), mu.manager, sub, now)
		if !ok {
			return "", "", false
		}
		lm, _ := meta.Accessor(lib)
		want, got := encoded(lm.GetManagedFields()), encoded(entries)
		if want == got || before.Unix() == now.Unix() || try > 0 {
			return want, got, true
		}
		// The two ran on either side of a second: run them again.
	}
}

func subresourceOf(managers map[string]*managedfields.FieldManager, mu mutation) string {
	if managers[mu.subresource] == nil {
		return ""
	}
	return mu.subresource
}

// encoded writes entries out field by field, each set's bytes as they are
// (JSON would compact them) and times to the second, as they are stored.
func encoded(entries []metav1.ManagedFieldsEntry) string {
	var b strings.Builder
	for _, e := range entries {
		at := int64(-1)
		if e.Time != nil {
			at = e.Time.Unix()
		}
		var raw []byte
		if e.FieldsV1 != nil {
			raw = e.FieldsV1.Raw
		}
		fmt.Fprintf(&b, "%s|%s|%s|%s|%s|%d|%s\n", e.Manager, e.Operation, e.APIVersion, e.Subresource, e.FieldsType, at, raw)
	}
	return b.String()
}

// emptyOf is what a create compares against, as createObject makes it.
func emptyOf(t testing.TB, info *resources.Info) runtime.Object {
	empty, err := resources.Scheme.New(info.StorageGVK())
	if err != nil {
		t.Fatal(err)
	}
	empty.GetObjectKind().SetGroupVersionKind(info.StorageGVK())
	return empty
}

// shuffleTimes moves the stored entries' times up to a minute into the past, so
// that the order the library sorts them in is exercised, not only their names.
func shuffleTimes(r *rand.Rand, obj runtime.Object) {
	m, _ := meta.Accessor(obj)
	entries := m.GetManagedFields()
	for i := range entries {
		if r.IntN(2) == 0 {
			entries[i].Time = &metav1.Time{Time: time.Now().Add(-time.Duration(r.IntN(60)) * time.Second).UTC()}
		}
	}
}

// rewriteManagedFields are updates of the main resource whose client rewrote
// managed fields, which the library takes as sent: one manager's set given to
// another too (two owners of one field, which otherwise only appliers make),
// a set written with spaces the library's encoding would not have, and one that
// claims metadata the library never records an owner of.
func rewriteManagedFields() []mutation {
	entries := func(o runtime.Object) []metav1.ManagedFieldsEntry {
		m, _ := meta.Accessor(o)
		return m.GetManagedFields()
	}
	return []mutation{
		{"share", "kubectl-edit", "", func(r *rand.Rand, o runtime.Object) {
			if e := entries(o); len(e) > 1 {
				i, j := r.IntN(len(e)), r.IntN(len(e))
				e[j].FieldsV1 = &metav1.FieldsV1{Raw: append([]byte(nil), e[i].FieldsV1.Raw...)}
			}
		}},
		{"spaces", "kubectl-edit", "", respace},
		{"claim generation", "kubectl-edit", "", func(r *rand.Rand, o runtime.Object) {
			if e := entries(o); len(e) > 0 {
				i := r.IntN(len(e))
				s := &fieldpath.Set{}
				if err := s.FromJSON(bytes.NewReader(e[i].FieldsV1.Raw)); err != nil {
					panic(err)
				}
				s.Insert(fieldpath.MakePathOrDie("metadata", "generation"))
				raw, err := s.ToJSON()
				if err != nil {
					panic(err)
				}
				e[i].FieldsV1 = &metav1.FieldsV1{Raw: raw}
			}
		}},
	}
}

// duplicate names one owner twice, which the library merges into one entry.
func duplicate(r *rand.Rand, o runtime.Object) {
	m, _ := meta.Accessor(o)
	if e := m.GetManagedFields(); len(e) > 0 {
		m.SetManagedFields(append(e, e[r.IntN(len(e))]))
	}
}

// respace writes one entry's set with a space the library's encoding would not
// have.
func respace(r *rand.Rand, o runtime.Object) {
	m, _ := meta.Accessor(o)
	if e := m.GetManagedFields(); len(e) > 0 {
		i := r.IntN(len(e))
		e[i].FieldsV1 = &metav1.FieldsV1{Raw: append([]byte(" "), e[i].FieldsV1.Raw...)}
	}
}

func micro(r *rand.Rand) *metav1.MicroTime {
	return ptr.To(metav1.NewMicroTime(time.Now().Add(time.Duration(r.IntN(1e9)))))
}

func testLease() runtime.Object {
	now := metav1.NewMicroTime(time.Now())
	return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "node-1", Namespace: "kube-node-lease"},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("node-1"), LeaseDurationSeconds: ptr.To[int32](40), RenewTime: &now}}
}

func leaseMutations() []mutation {
	lease := func(o runtime.Object) *coordinationv1.Lease { return o.(*coordinationv1.Lease) }
	return []mutation{
		{"renew", "creator", "", func(r *rand.Rand, o runtime.Object) { lease(o).Spec.RenewTime = micro(r) }},
		{"renew", "kubelet", "", func(r *rand.Rand, o runtime.Object) { lease(o).Spec.RenewTime = micro(r) }},
		{"holder", "creator", "", func(r *rand.Rand, o runtime.Object) {
			lease(o).Spec.HolderIdentity = ptr.To(fmt.Sprint("node-", r.IntN(3)))
			lease(o).Spec.RenewTime = micro(r)
		}},
		{"nothing", "creator", "", func(*rand.Rand, runtime.Object) {}},
		{"acquire", "other", "", func(r *rand.Rand, o runtime.Object) {
			if r.IntN(2) == 0 {
				lease(o).Spec.AcquireTime = micro(r)
			} else {
				lease(o).Spec.AcquireTime = nil
			}
		}},
		{"transitions", "other", "", func(r *rand.Rand, o runtime.Object) { lease(o).Spec.LeaseTransitions = ptr.To(int32(r.IntN(3))) }},
		{"label", "kubectl-label", "", func(r *rand.Rand, o runtime.Object) {
			lease(o).Labels = map[string]string{"a": fmt.Sprint(r.IntN(3))}
		}},
		{"duration", "kubectl-edit", "", func(r *rand.Rand, o runtime.Object) {
			lease(o).Spec.LeaseDurationSeconds = ptr.To(int32(30 + r.IntN(3)))
		}},
	}
}

func testNode() runtime.Object {
	now := metav1.NewTime(time.Now())
	cond := func(typ corev1.NodeConditionType, st corev1.ConditionStatus, reason string) corev1.NodeCondition {
		return corev1.NodeCondition{Type: typ, Status: st, Reason: reason, Message: "kubelet says " + reason, LastHeartbeatTime: now, LastTransitionTime: now}
	}
	capacity := corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"),
		corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("100Gi")}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "node-1", Labels: map[string]string{corev1.LabelHostname: "node-1", corev1.LabelOSStable: "linux"},
			Annotations: map[string]string{"node.alpha.kubernetes.io/ttl": "0"}},
		Spec: corev1.NodeSpec{PodCIDR: "10.42.1.0/24", PodCIDRs: []string{"10.42.1.0/24"}},
		Status: corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity.DeepCopy(), Phase: corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{
				cond(corev1.NodeMemoryPressure, corev1.ConditionFalse, "KubeletHasSufficientMemory"),
				cond(corev1.NodeDiskPressure, corev1.ConditionFalse, "KubeletHasNoDiskPressure"),
				cond(corev1.NodePIDPressure, corev1.ConditionFalse, "KubeletHasSufficientPID"),
				cond(corev1.NodeReady, corev1.ConditionTrue, "KubeletReady"),
			},
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "10.0.0.1"}, {Type: corev1.NodeHostName, Address: "node-1"}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: 10250}},
			NodeInfo:        corev1.NodeSystemInfo{MachineID: "m", KubeletVersion: "v1.37.2", OperatingSystem: "linux", Architecture: "amd64"},
			Images:          []corev1.ContainerImage{{Names: []string{"skiff.local/pause:1"}, SizeBytes: 300000}},
		},
	}
}

func nodeMutations() []mutation {
	node := func(o runtime.Object) *corev1.Node { return o.(*corev1.Node) }
	heartbeat := func(r *rand.Rand, o runtime.Object) {
		for i := range node(o).Status.Conditions {
			if r.IntN(4) != 0 {
				node(o).Status.Conditions[i].LastHeartbeatTime = metav1.NewTime(time.Now().Add(time.Duration(r.IntN(100)) * time.Second))
			}
		}
	}
	return []mutation{
		{"heartbeat", "creator", "status", heartbeat},
		{"heartbeat", "kubelet", "status", heartbeat},
		{"ready", "creator", "status", func(r *rand.Rand, o runtime.Object) {
			cs := node(o).Status.Conditions
			c := &cs[len(cs)-1]
			c.Status = []corev1.ConditionStatus{corev1.ConditionTrue, corev1.ConditionFalse, corev1.ConditionUnknown}[r.IntN(3)]
			c.Reason, c.LastTransitionTime = fmt.Sprint("Reason", r.IntN(3)), metav1.NewTime(time.Now().Add(time.Hour))
		}},
		{"images", "creator", "status", func(r *rand.Rand, o runtime.Object) {
			node(o).Status.Images = append(node(o).Status.Images, corev1.ContainerImage{Names: []string{fmt.Sprint("img", r.IntN(5))}, SizeBytes: 1})
		}},
		{"allocatable", "creator", "status", func(r *rand.Rand, o runtime.Object) {
			node(o).Status.Allocatable[corev1.ResourcePods] = *resource.NewQuantity(int64(100+r.IntN(20)), resource.DecimalSI)
		}},
		{"new condition", "node-controller", "status", func(r *rand.Rand, o runtime.Object) {
			c := node(o).Status.Conditions
			if r.IntN(2) == 0 && len(c) > 1 {
				node(o).Status.Conditions = c[:len(c)-1]
			} else {
				node(o).Status.Conditions = append(c, corev1.NodeCondition{Type: "Extra", Status: corev1.ConditionTrue})
			}
		}},
		{"reorder", "kubelet", "status", func(r *rand.Rand, o runtime.Object) {
			c := node(o).Status.Conditions
			c[0], c[len(c)-1] = c[len(c)-1], c[0]
		}},
		{"lifecycle", "node-controller", "status", func(r *rand.Rand, o runtime.Object) {
			node(o).Status.Conditions[r.IntN(len(node(o).Status.Conditions))].Status = corev1.ConditionUnknown
		}},
		{"taint", "node-controller", "", func(r *rand.Rand, o runtime.Object) {
			if r.IntN(2) == 0 {
				node(o).Spec.Taints = []corev1.Taint{{Key: "node.kubernetes.io/unreachable", Effect: corev1.TaintEffectNoSchedule}}
			} else {
				node(o).Spec.Taints = nil
			}
		}},
		{"label", "kubectl-label", "", func(r *rand.Rand, o runtime.Object) { node(o).Labels["zone"] = fmt.Sprint("z", r.IntN(3)) }},
		{"cordon", "kubectl", "", func(r *rand.Rand, o runtime.Object) { node(o).Spec.Unschedulable = r.IntN(2) == 0 }},
		{"status through main", "creator", "", heartbeat},
	}
}

func testPodRunning() runtime.Object {
	p := testPod()
	p.Spec.NodeName = "node-1"
	now := metav1.NewTime(time.Now())
	p.Status = corev1.PodStatus{Phase: corev1.PodPending, HostIP: "10.0.0.1", PodIP: "10.42.1.5", StartTime: &now,
		PodIPs: []corev1.PodIP{{IP: "10.42.1.5"}},
		Conditions: []corev1.PodCondition{
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, LastTransitionTime: now},
			{Type: corev1.ContainersReady, Status: corev1.ConditionFalse, LastTransitionTime: now},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		},
		ContainerStatuses: []corev1.ContainerStatus{{Name: "web", Image: "nginx:1", State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "ContainerCreating"}}}},
	}
	return p
}

func podMutations() []mutation {
	pod := func(o runtime.Object) *corev1.Pod { return o.(*corev1.Pod) }
	return []mutation{
		{"probe", "creator", "status", func(r *rand.Rand, o runtime.Object) {
			c := &pod(o).Status.Conditions[1+r.IntN(2)]
			c.Status, c.LastTransitionTime = corev1.ConditionTrue, metav1.NewTime(time.Now().Add(time.Duration(r.IntN(100))*time.Second))
		}},
		{"containers", "creator", "status", func(r *rand.Rand, o runtime.Object) {
			cs := &pod(o).Status.ContainerStatuses[0]
			cs.Ready, cs.Started = r.IntN(2) == 0, ptr.To(true)
			cs.State = corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.NewTime(time.Now())}}
		}},
		{"phase", "creator", "status", func(r *rand.Rand, o runtime.Object) {
			pod(o).Status.Phase = []corev1.PodPhase{corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed}[r.IntN(3)]
		}},
		{"message", "kubelet", "status", func(r *rand.Rand, o runtime.Object) { pod(o).Status.Message = fmt.Sprint("m", r.IntN(3)) }},
		{"label", "kubectl-label", "", func(r *rand.Rand, o runtime.Object) { pod(o).Labels["tier"] = fmt.Sprint("t", r.IntN(3)) }},
		{"image", "kubectl-set", "", func(r *rand.Rand, o runtime.Object) {
			pod(o).Spec.Containers[0].Image = fmt.Sprint("nginx:", r.IntN(3))
		}},
		{"resize", "creator", "resize", func(r *rand.Rand, o runtime.Object) {
			pod(o).Spec.Containers[0].Resources.Requests[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(100+r.IntN(3)*100), resource.DecimalSI)
		}},
	}
}

// BenchmarkOwnedUpdate measures the managed fields of a kubelet's Lease renewal
// and of its node status heartbeat, through the library and the fast path.
func BenchmarkOwnedUpdate(b *testing.B) {
	tc := newTypeConverter(newBuiltinTypes())
	for _, c := range []struct {
		resource, subresource string
		obj                   func() runtime.Object
		change                func(runtime.Object)
	}{
		{"leases", "", testLease, func(o runtime.Object) {
			o.(*coordinationv1.Lease).Spec.RenewTime = ptr.To(metav1.NewMicroTime(time.Now()))
		}},
		{"nodes", "status", testNode, func(o runtime.Object) {
			for i := range o.(*corev1.Node).Status.Conditions {
				o.(*corev1.Node).Status.Conditions[i].LastHeartbeatTime = metav1.NewTime(time.Now().Add(time.Minute))
			}
		}},
	} {
		info := infoFor(b, c.resource)
		managers, err := newManagers(tc, info)
		if err != nil {
			b.Fatal(err)
		}
		owned := newOwnedUpdates(tc, info)
		live := c.obj()
		live.GetObjectKind().SetGroupVersionKind(info.StorageGVK())
		live = managers[""].UpdateNoErrors(emptyOf(b, info), live, "kubelet")
		first := live.DeepCopyObject()
		c.change(first)
		live = managers[c.subresource].UpdateNoErrors(live, first, "kubelet")
		next := live.DeepCopyObject()
		c.change(next)
		b.Run(c.resource+"/library", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				managers[c.subresource].UpdateNoErrors(live, next.DeepCopyObject(), "kubelet")
			}
		})
		b.Run(c.resource+"/fast", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := owned.update(live, next.DeepCopyObject(), "kubelet", c.subresource, time.Now()); !ok {
					b.Fatal("the fast path declined")
				}
			}
		})
	}
}
