package nodelifecycle

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func secs(n int64) *int64 { return &n }

func taint(key string, effect corev1.TaintEffect, added time.Time) corev1.Taint {
	ta := metav1.NewTime(added)
	return corev1.Taint{Key: key, Effect: effect, TimeAdded: &ta}
}

func TestEvictionTime(t *testing.T) {
	unreachable := []corev1.Taint{taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, t0)}
	now := t0.Add(10 * time.Second)
	tests := []struct {
		name   string
		tols   []corev1.Toleration
		taints []corev1.Taint
		want   time.Time
		evict  bool
	}{
		{"no taints", nil, nil, time.Time{}, false},
		{"not tolerated: now", nil, unreachable, now, true},
		{"default 300s toleration", []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(300)}}, unreachable, t0.Add(300 * time.Second), true},
		{"tolerated forever", []corev1.Toleration{{Operator: corev1.TolerationOpExists}}, unreachable, time.Time{}, false},
		{"shortest of several", []corev1.Toleration{
			{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists, TolerationSeconds: secs(60)},
			{Operator: corev1.TolerationOpExists, TolerationSeconds: secs(20)}}, unreachable, t0.Add(20 * time.Second), true},
		{"wrong effect does not tolerate", []corev1.Toleration{{Key: corev1.TaintNodeUnreachable, Operator: corev1.TolerationOpExists,
			Effect: corev1.TaintEffectNoSchedule}}, unreachable, now, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, evict := EvictionTime(tt.tols, tt.taints, now)
			if evict != tt.evict || !got.Equal(tt.want) {
				t.Errorf("EvictionTime = %v, %v; want %v, %v", got, evict, tt.want, tt.evict)
			}
		})
	}
}

func TestReconcileTaints(t *testing.T) {
	node := &corev1.Node{Spec: corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{
		{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
		taint(corev1.TaintNodeNotReady, corev1.TaintEffectNoExecute, t0),
	}}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown}}}}
	now := t0.Add(time.Minute)
	got, changed := ReconcileTaints(node.Spec.Taints, DesiredTaints(node), now)
	want := []corev1.Taint{
		{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule},
		taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoSchedule, now),
		taint(corev1.TaintNodeUnreachable, corev1.TaintEffectNoExecute, now),
		taint(corev1.TaintNodeUnschedulable, corev1.TaintEffectNoSchedule, now),
	}
	if diff := cmp.Diff(want, got); diff != "" || !changed {
		t.Errorf("taints (-want +got), changed=%v:\n%s", changed, diff)
	}
	if _, changed := ReconcileTaints(got, DesiredTaints(node), now.Add(time.Minute)); changed {
		t.Error("reconciling again changed the taints")
	}
}

func TestSyncMarksSilentNodeAndEvicts(t *testing.T) {
	renew := metav1.NewMicroTime(t0.Add(-50 * time.Second))
	beat := metav1.NewTime(t0.Add(-50 * time.Second))
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: beat}}}}
	lease := &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: leaseNamespace}, Spec: coordv1.LeaseSpec{RenewTime: &renew}}
	ready := []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}
	intolerant := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "intolerant", Namespace: "ns", UID: "u1"},
		Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: ready}}
	patient := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "patient", Namespace: "ns", UID: "u2"},
		Spec: corev1.PodSpec{NodeName: "n1", Tolerations: []corev1.Toleration{{Key: corev1.TaintNodeUnreachable,
			Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: secs(300)}}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning}}
	nc, client := newController(t, node, lease, intolerant, patient)

	if err := nc.sync(context.Background(), "n1"); err != nil {
		t.Fatal(err)
	}
	n, _ := client.CoreV1().Nodes().Get(context.Background(), "n1", metav1.GetOptions{})
	if c := condition(n, corev1.NodeReady); c == nil || c.Status != corev1.ConditionUnknown {
		t.Errorf("Ready condition %+v, want Unknown", c)
	}
	var keys []string
	for _, ta := range n.Spec.Taints {
		keys = append(keys, ta.Key+":"+string(ta.Effect))
	}
	if diff := cmp.Diff([]string{"node.kubernetes.io/unreachable:NoSchedule", "node.kubernetes.io/unreachable:NoExecute"}, keys); diff != "" {
		t.Errorf("taints (-want +got):\n%s", diff)
	}
	var gone []string
	notReady := false
	for _, a := range client.Actions() {
		if d, ok := a.(k8stesting.DeleteActionImpl); ok {
			gone = append(gone, d.GetName())
		}
		if u, ok := a.(k8stesting.UpdateActionImpl); ok && u.GetResource().Resource == "pods" {
			p := u.GetObject().(*corev1.Pod)
			notReady = notReady || (p.Name == "intolerant" && p.Status.Conditions[0].Status == corev1.ConditionFalse)
		}
	}
	if diff := cmp.Diff([]string{"intolerant"}, gone); diff != "" {
		t.Errorf("evicted (-want +got):\n%s", diff)
	}
	if !notReady {
		t.Error("pods of the unreachable node were not marked not ready")
	}
}

func TestSyncLeavesHealthyNodeAlone(t *testing.T) {
	renew := metav1.NewMicroTime(t0.Add(-5 * time.Second))
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{
		{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	lease := &coordv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "n1", Namespace: leaseNamespace}, Spec: coordv1.LeaseSpec{RenewTime: &renew}}
	nc, client := newController(t, node, lease)
	if err := nc.sync(context.Background(), "n1"); err != nil {
		t.Fatal(err)
	}
	if n := len(client.Actions()); n != 0 {
		t.Errorf("%d writes for a healthy node: %v", n, client.Actions())
	}
}

func newController(t *testing.T, objs ...runtime.Object) (*Controller, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	c := &controller.Context{Client: client, Informers: informers.NewSharedInformerFactory(client, 0),
		Recorder: func(string) record.EventRecorder { return record.NewFakeRecorder(10) }}
	nc := New(c, Options{})
	nc.now = func() time.Time { return t0 }
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c.Informers.Start(ctx.Done())
	c.Informers.WaitForCacheSync(ctx.Done())
	client.ClearActions()
	return nc, client
}
