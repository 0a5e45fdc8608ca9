package disruption

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

var now = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func int32p(n int32) *int32 { return &n }

var (
	yes        = true
	deployment = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "d1"},
		Spec: appsv1.DeploymentSpec{Replicas: int32p(4)}}
	replicaSet = &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-1", Namespace: "ns", UID: "rs1",
		OwnerReferences: []metav1.OwnerReference{{Kind: "Deployment", Name: "web", UID: "d1", Controller: &yes}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: int32p(4)}}
)

func pod(name string, ready bool, owned bool) *corev1.Pod {
	st := corev1.ConditionFalse
	if ready {
		st = corev1.ConditionTrue
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", Labels: map[string]string{"app": "web"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: st}}}}
	if owned {
		p.OwnerReferences = []metav1.OwnerReference{{Kind: "ReplicaSet", Name: "web-1", UID: "rs1", Controller: &yes}}
	}
	return p
}

func budget(min, maxUnavailable *intstr.IntOrString, disrupted map[string]metav1.Time) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "pdb", Namespace: "ns", Generation: 2},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: min, MaxUnavailable: maxUnavailable,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		Status: policyv1.PodDisruptionBudgetStatus{DisruptedPods: disrupted}}
}

func TestSync(t *testing.T) {
	two, one, half := intstr.FromInt32(2), intstr.FromInt32(1), intstr.FromString("50%")
	threeReady := []runtime.Object{pod("a", true, true), pod("b", true, true), pod("c", true, true), pod("d", false, true)}
	tests := []struct {
		name   string
		pdb    *policyv1.PodDisruptionBudget
		pods   []runtime.Object
		want   [4]int32 // expected, desired, healthy, allowed
		reason string
	}{
		{"minAvailable counts existing pods", budget(&two, nil, nil), threeReady, [4]int32{4, 2, 3, 1}, policyv1.SufficientPodsReason},
		{"maxUnavailable against the deployment's replicas", budget(nil, &one, nil), threeReady, [4]int32{4, 3, 3, 0}, policyv1.InsufficientPodsReason},
		{"percentage rounds up", budget(&half, nil, nil), threeReady, [4]int32{4, 2, 3, 1}, policyv1.SufficientPodsReason},
		{"a granted eviction counts as disrupted", budget(&two, nil, map[string]metav1.Time{"a": metav1.NewTime(now.Add(-30 * time.Second))}),
			threeReady, [4]int32{4, 2, 2, 0}, policyv1.InsufficientPodsReason},
		{"an old granted eviction is forgotten", budget(&two, nil, map[string]metav1.Time{"a": metav1.NewTime(now.Add(-3 * time.Minute))}),
			threeReady, [4]int32{4, 2, 3, 1}, policyv1.SufficientPodsReason},
		{"a percentage needs controllers", budget(&half, nil, nil), []runtime.Object{pod("a", true, false)}, [4]int32{}, policyv1.SyncFailedReason},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs := append([]runtime.Object{tt.pdb, deployment, replicaSet}, tt.pods...)
			s, client := newSyncer(t, objs...)
			if err := s.sync(context.Background(), "ns/pdb"); err != nil {
				t.Fatal(err)
			}
			got, err := client.PolicyV1().PodDisruptionBudgets("ns").Get(context.Background(), "pdb", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			st := got.Status
			if diff := cmp.Diff(tt.want, [4]int32{st.ExpectedPods, st.DesiredHealthy, st.CurrentHealthy, st.DisruptionsAllowed}); diff != "" {
				t.Errorf("expected/desired/healthy/allowed (-want +got):\n%s", diff)
			}
			if st.ObservedGeneration != 2 {
				t.Errorf("observedGeneration %d, want 2", st.ObservedGeneration)
			}
			c := meta.FindStatusCondition(st.Conditions, policyv1.DisruptionAllowedCondition)
			if c == nil || c.Reason != tt.reason {
				t.Errorf("condition %+v, want reason %s", c, tt.reason)
			}
		})
	}
}

func newSyncer(t *testing.T, objs ...runtime.Object) (*syncer, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	c := &controller.Context{Client: client, Informers: informers.NewSharedInformerFactory(client, 0),
		Recorder: func(string) record.EventRecorder { return record.NewFakeRecorder(10) }}
	New(c)
	inf := c.Informers
	s := &syncer{c: c, recorder: record.NewFakeRecorder(10), now: func() time.Time { return now },
		pdbs: inf.Policy().V1().PodDisruptionBudgets().Lister(), pods: inf.Core().V1().Pods().Lister(), scales: newScaleListers(c)}
	s.ctl = controller.New("disruption-test", s.sync, 1)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	inf.Start(ctx.Done())
	inf.WaitForCacheSync(ctx.Done())
	return s, client
}
