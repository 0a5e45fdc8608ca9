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

func TestPodFailedWaitsForPhaseWithAFailurePolicy(t *testing.T) {
	deleted := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{Time: time.Unix(1, 0)}}}
	deleted.Status.Phase = corev1.PodRunning
	plain := &batchv1.Job{Spec: batchv1.JobSpec{PodReplacementPolicy: new(batchv1.TerminatingOrFailed)}}
	withPolicy := &batchv1.Job{Spec: batchv1.JobSpec{PodReplacementPolicy: new(batchv1.Failed)}}
	if !podFailed(plain, deleted) {
		t.Error("a deleted running pod should count as failed at once")
	}
	if podFailed(withPolicy, deleted) {
		t.Error("with replacement on Failed only, a deleted pod is not failed until its phase says so")
	}
	deleted.Status.Phase = corev1.PodFailed
	if !podFailed(withPolicy, deleted) {
		t.Error("a Failed pod failed")
	}
}

func TestSuccessPolicy(t *testing.T) {
	tests := []struct {
		name      string
		completed string
		rules     []batchv1.SuccessPolicyRule
		want      string
	}{
		{"count met", "3", []batchv1.SuccessPolicyRule{{SucceededCount: new(int32(1))}}, "Matched rules at index 0"},
		{"count not met", "", []batchv1.SuccessPolicyRule{{SucceededCount: new(int32(1))}}, ""},
		{"all of the set", "0,2", []batchv1.SuccessPolicyRule{{SucceededIndexes: new("0,2")}}, "Matched rules at index 0"},
		{"part of the set", "0", []batchv1.SuccessPolicyRule{{SucceededIndexes: new("0,2")}}, ""},
		{"count within the set, second rule", "1,2", []batchv1.SuccessPolicyRule{{SucceededIndexes: new("0")},
			{SucceededIndexes: new("1-3"), SucceededCount: new(int32(2))}}, "Matched rules at index 1"},
	}
	for _, tt := range tests {
		job := &batchv1.Job{Spec: batchv1.JobSpec{Completions: new(int32(5)), CompletionMode: new(batchv1.IndexedCompletion),
			SuccessPolicy: &batchv1.SuccessPolicy{Rules: tt.rules}}, Status: batchv1.JobStatus{CompletedIndexes: tt.completed}}
		if got, _ := successPolicyMet(job); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestIndexFails(t *testing.T) {
	job := &batchv1.Job{Spec: batchv1.JobSpec{Completions: new(int32(2)), CompletionMode: new(batchv1.IndexedCompletion),
		BackoffLimitPerIndex: new(int32(1))}}
	pod := func(count string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{batchv1.JobIndexFailureCountAnnotation: count}}}
	}
	failIndex := batchv1.PodFailurePolicyActionFailIndex
	if indexFails(job, pod("0"), nil) {
		t.Error("the first failure of an index with backoffLimitPerIndex 1 is retried")
	}
	if !indexFails(job, pod("1"), nil) {
		t.Error("the second failure fails the index")
	}
	if !indexFails(job, pod("0"), &failIndex) {
		t.Error("FailIndex fails the index at once")
	}
}
