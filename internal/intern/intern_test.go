package intern

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

// testPod is a pod as a controller's informer holds it, with every part Pod
// touches set, decoded afresh (nothing shared with another testPod).
func testPod(t testing.TB, i int) *corev1.Pod {
	now := metav1.NewTime(time.Unix(1700000000+int64(i), 0))
	always := corev1.ContainerRestartPolicyAlways
	p := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%d", i), Namespace: "scale-1", GenerateName: "web-",
			UID: types.UID(fmt.Sprintf("uid-%d", i)), ResourceVersion: fmt.Sprint(100 + i), CreationTimestamp: now,
			Labels: map[string]string{"app": "web", "pod-template-hash": "abc"}, Annotations: map[string]string{"a": "b"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web-abc", UID: "rs", Controller: ptr.To(true)}},
			Finalizers:      []string{"example.com/f"}},
		Spec: corev1.PodSpec{NodeName: fmt.Sprintf("node-%d", i%3), SchedulerName: "default-scheduler",
			ServiceAccountName: "default", DeprecatedServiceAccount: "default", PriorityClassName: "high",
			RestartPolicy: corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst,
			TerminationGracePeriodSeconds: ptr.To[int64](30), NodeSelector: map[string]string{"disk": "ssd"},
			InitContainers: []corev1.Container{{Name: "side", Image: "img:1", RestartPolicy: &always}},
			Containers: []corev1.Container{{Name: "c", Image: "img:1", Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80, Protocol: "TCP"}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("10m"), corev1.ResourceMemory: resource.MustParse("16Mi")}}}},
			Tolerations: []corev1.Toleration{{Key: "node.kubernetes.io/not-ready", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: ptr.To[int64](300)}},
			Volumes:     []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "d"}}}},
			Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: "In", Values: []string{"a"}}}}}}}},
			TopologySpreadConstraints: []corev1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}},
			SecurityContext:           &corev1.PodSecurityContext{RunAsUser: ptr.To[int64](1000)}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, QOSClass: corev1.PodQOSBurstable, HostIP: "172.16.0.1",
			HostIPs: []corev1.HostIP{{IP: "172.16.0.1"}}, PodIP: fmt.Sprintf("10.64.0.%d", i%250), StartTime: &now,
			Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: now}},
			ContainerStatuses: []corev1.ContainerStatus{{Name: "c", Image: "img:1", ImageID: "sim://img:1", ContainerID: fmt.Sprintf("sim://%d", i),
				Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
				LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1}}}}},
	}
	// Through protobuf, as an informer receives it: no part is shared yet.
	data, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out := &corev1.Pod{TypeMeta: p.TypeMeta}
	if err := out.Unmarshal(data); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestPodLosesNothing: interning a pod changes no value, field by field,
// whatever is shared with pods interned before it.
func TestPodLosesNothing(t *testing.T) {
	for i := range 5 {
		p := testPod(t, i)
		want := p.DeepCopy()
		Pod(p)
		if !reflect.DeepEqual(p, want) {
			t.Errorf("pod %d changed by Pod:\n got %+v\nwant %+v", i, p, want)
		}
	}
}

// TestPodShares: two pods of one template share their containers, labels,
// tolerations and the rest after interning; their own parts stay their own.
func TestPodShares(t *testing.T) {
	a, b := testPod(t, 1), testPod(t, 2)
	Pod(a)
	Pod(b)
	same := map[string][2]any{
		"containers":  {&a.Spec.Containers[0], &b.Spec.Containers[0]},
		"init":        {&a.Spec.InitContainers[0], &b.Spec.InitContainers[0]},
		"tolerations": {&a.Spec.Tolerations[0], &b.Spec.Tolerations[0]},
		"volumes":     {&a.Spec.Volumes[0], &b.Spec.Volumes[0]},
		"owners":      {&a.OwnerReferences[0], &b.OwnerReferences[0]},
		"spread":      {&a.Spec.TopologySpreadConstraints[0], &b.Spec.TopologySpreadConstraints[0]},
		"affinity":    {a.Spec.Affinity, b.Spec.Affinity},
		"security":    {a.Spec.SecurityContext, b.Spec.SecurityContext},
		"grace":       {a.Spec.TerminationGracePeriodSeconds, b.Spec.TerminationGracePeriodSeconds},
	}
	for what, p := range same {
		if p[0] != p[1] {
			t.Errorf("%s not shared", what)
		}
	}
	if reflect.ValueOf(a.Labels).UnsafePointer() != reflect.ValueOf(b.Labels).UnsafePointer() {
		t.Error("labels not shared")
	}
	if &a.Status.Conditions[0] == &b.Status.Conditions[0] || a.Status.StartTime == b.Status.StartTime {
		t.Error("a pod's own status is shared")
	}
	// A different template shares nothing of the first.
	c := testPod(t, 3)
	c.Spec.Containers[0].Image = "img:2"
	c.Labels["app"] = "db"
	Pod(c)
	if &c.Spec.Containers[0] == &a.Spec.Containers[0] || c.Labels["app"] != "db" || a.Labels["app"] != "web" {
		t.Error("different containers or labels were shared")
	}
}

// TestTableBounded: a table that is full starts afresh rather than growing.
func TestTableBounded(t *testing.T) {
	var tb table[int]
	for i := range maxShared + 10 {
		tb.get(fmt.Sprint(i), i)
	}
	if n := len(tb.m); n > maxShared {
		t.Errorf("table holds %d values, more than %d", n, maxShared)
	}
	if got := tb.get(fmt.Sprint(maxShared+5), -1); got != maxShared+5 {
		t.Errorf("get of a recent key = %d, want the stored %d", got, maxShared+5)
	}
}
