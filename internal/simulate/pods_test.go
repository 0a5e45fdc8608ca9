package simulate

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMarkReady(t *testing.T) {
	cond := func(s v1.ConditionStatus) []v1.PodCondition {
		return []v1.PodCondition{{Type: v1.PodScheduled, Status: v1.ConditionTrue},
			{Type: v1.PodReady, Status: s}, {Type: v1.ContainersReady, Status: s}}
	}
	for _, tc := range []struct {
		name    string
		phase   v1.PodPhase
		conds   []v1.PodCondition
		ready   bool
		changed bool
	}{
		{"ready already", v1.PodRunning, cond(v1.ConditionTrue), true, false},
		{"marked not ready by the node controller", v1.PodRunning, cond(v1.ConditionFalse), false, true},
		{"container not ready", v1.PodRunning, cond(v1.ConditionTrue), false, true},
		{"finished pod stays as it is", v1.PodSucceeded, cond(v1.ConditionFalse), false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := &v1.Pod{Status: v1.PodStatus{Phase: tc.phase, Conditions: tc.conds,
				ContainerStatuses: []v1.ContainerStatus{{Name: "c", Ready: tc.ready}}}}
			if got := markReady(pod); got != tc.changed {
				t.Fatalf("markReady = %v; want %v", got, tc.changed)
			}
			if !tc.changed {
				return
			}
			for _, c := range pod.Status.Conditions {
				if c.Status != v1.ConditionTrue {
					t.Errorf("condition %s is %s after markReady", c.Type, c.Status)
				}
			}
			if !pod.Status.ContainerStatuses[0].Ready {
				t.Error("container not ready after markReady")
			}
		})
	}
}

// TestSlimPod: the informer's copy keeps what syncPod and markRunning read and
// the whole status (a status update sends it back), and nothing else.
func TestSlimPod(t *testing.T) {
	now := metav1.Now()
	always := v1.ContainerRestartPolicyAlways
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u", ResourceVersion: "7", DeletionTimestamp: &now,
			Labels: map[string]string{"app": "a"}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "m"}}},
		Spec: v1.PodSpec{NodeName: "sim-1", Volumes: []v1.Volume{{Name: "v"}},
			InitContainers: []v1.Container{{Name: "i", Image: "img-i", RestartPolicy: &always, Command: []string{"x"}}},
			Containers:     []v1.Container{{Name: "c", Image: "img-c", Args: []string{"y"}}}},
		Status: v1.PodStatus{Phase: v1.PodRunning, PodIP: "10.0.0.1", Conditions: []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}},
			ContainerStatuses: []v1.ContainerStatus{{Name: "c", Ready: true}}},
	}
	got, err := slimPod(pod.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	want := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "u", ResourceVersion: "7", DeletionTimestamp: &now},
		Spec: v1.PodSpec{NodeName: "sim-1",
			InitContainers: []v1.Container{{Name: "i", Image: "img-i", RestartPolicy: &always}},
			Containers:     []v1.Container{{Name: "c", Image: "img-c"}}},
		Status: pod.Status,
	}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("slimPod = %+v\nwant %+v", got, want)
	}
	if tomb, _ := slimPod("not a pod"); tomb != "not a pod" {
		t.Errorf("slimPod changed a non-pod: %v", tomb)
	}
}
