package job

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIndexes(t *testing.T) {
	tests := []struct {
		in          string
		completions int
		want        []int
		format      string
	}{
		{"", 5, nil, ""},
		{"0", 5, []int{0}, "0"},
		{"1,3-5", 10, []int{1, 3, 4, 5}, "1,3-5"},
		{"0-2,4", 5, []int{0, 1, 2, 4}, "0-2,4"},
		{"3-9", 5, []int{3, 4}, "3-4"},
		{"2,1,1", 5, []int{1, 2}, "1-2"},
		{"x,2", 5, []int{2}, "2"},
	}
	for _, tt := range tests {
		got := parseIndexes(tt.in, tt.completions)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parse %q: (-want +got)\n%s", tt.in, diff)
		}
		if f := formatIndexes(got); f != tt.format {
			t.Errorf("format %v = %q, want %q", got, f, tt.format)
		}
	}
	if got := addIndex("0-1,3", 2, 5); got != "0-3" {
		t.Errorf("addIndex = %q", got)
	}
}

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		failures int32
		want     time.Duration
	}{{0, 0}, {1, 10 * time.Second}, {2, 20 * time.Second}, {3, 40 * time.Second}, {10, 6 * time.Minute}, {100, 6 * time.Minute}}
	for _, tt := range tests {
		if got := backoffDelay(tt.failures, 10*time.Second, 6*time.Minute); got != tt.want {
			t.Errorf("backoffDelay(%d) = %v, want %v", tt.failures, got, tt.want)
		}
	}
}

func failedPod(container string, code int32, conds ...corev1.PodConditionType) *corev1.Pod {
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "p"}}
	p.Status.Phase = corev1.PodFailed
	p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: container,
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code}}}}
	for _, c := range conds {
		p.Status.Conditions = append(p.Status.Conditions, corev1.PodCondition{Type: c, Status: corev1.ConditionTrue})
	}
	return p
}

func TestMatchFailurePolicy(t *testing.T) {
	main := "main"
	policy := &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
		{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			ContainerName: &main, Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{42}}},
		{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
			{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
		{Action: batchv1.PodFailurePolicyActionCount, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
			Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{1}}},
	}}
	tests := []struct {
		name string
		pod  *corev1.Pod
		want batchv1.PodFailurePolicyAction
		msg  string
	}{
		{"exit 42 fails the job", failedPod("main", 42), batchv1.PodFailurePolicyActionFailJob,
			"Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 0"},
		{"other container's 42 does not", failedPod("side", 42), batchv1.PodFailurePolicyActionCount, ""},
		{"disruption ignored", failedPod("main", 1, corev1.DisruptionTarget), batchv1.PodFailurePolicyActionIgnore,
			"Pod ns/p has condition DisruptionTarget matching Ignore rule at index 1"},
		{"exit 1 matches nothing", failedPod("main", 1), "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, msg := matchFailurePolicy(policy, tt.pod)
			var got batchv1.PodFailurePolicyAction
			if a != nil {
				got = *a
			}
			if got != tt.want || (tt.msg != "" && msg != tt.msg) {
				t.Errorf("got %q %q, want %q %q", got, msg, tt.want, tt.msg)
			}
		})
	}
}
