package job

import (
	"fmt"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Indexed Jobs with a limit per index (backoffLimitPerIndex, maxFailedIndexes, the
// FailIndex action) and success policies: pure rules over the Job and its pods.

const (
	reasonFailedIndexes    = batchv1.JobReasonFailedIndexes
	msgFailedIndexes       = "Job has failed indexes"
	reasonMaxFailedIndexes = batchv1.JobReasonMaxFailedIndexesExceeded
	msgMaxFailedIndexes    = "Job has exceeded the specified maximal number of failed indexes"
	reasonSuccessPolicy    = batchv1.JobReasonSuccessPolicy
)

func perIndexLimit(job *batchv1.Job) bool {
	return indexed(job) && job.Spec.BackoffLimitPerIndex != nil
}

// onlyReplaceFailed: a pod being deleted is not yet a failure (nor replaced) until it
// has reached the Failed phase, so that the pod failure policy can see how it ended.
func onlyReplaceFailed(job *batchv1.Job) bool {
	return job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed
}

// failedIndexes is the Job's failed indexes, sorted.
func failedIndexes(job *batchv1.Job) []int {
	if job.Status.FailedIndexes == nil {
		return nil
	}
	return parseIndexes(*job.Status.FailedIndexes, completions(job))
}

// failureCount is how many counted failures a pod's index had before this pod ran.
func failureCount(p *corev1.Pod) int {
	n, err := strconv.Atoi(p.Annotations[batchv1.JobIndexFailureCountAnnotation])
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// indexFails reports whether a counted failure of pod fails its index for good: the
// FailIndex action matched, or the index has used up backoffLimitPerIndex.
func indexFails(job *batchv1.Job, pod *corev1.Pod, action *batchv1.PodFailurePolicyAction) bool {
	if !perIndexLimit(job) {
		return false
	}
	if action != nil && *action == batchv1.PodFailurePolicyActionFailIndex {
		return true
	}
	return failureCount(pod)+1 > int(*job.Spec.BackoffLimitPerIndex)
}

// indexFailures is, per index, how many counted failures its pods had: what the next
// pod of the index carries in its failure-count annotation.
func indexFailures(job *batchv1.Job, pods []*corev1.Pod) map[int]int {
	out := map[int]int{}
	for _, p := range pods {
		idx, ok := podIndex(p)
		if !ok || !podFailed(job, p) {
			continue
		}
		if action, _ := matchFailurePolicy(job.Spec.PodFailurePolicy, p); action != nil && *action == batchv1.PodFailurePolicyActionIgnore {
			continue
		}
		out[idx] = max(out[idx], failureCount(p)+1)
	}
	return out
}

// podFailed: the pod failed, or is being deleted before it could succeed (which
// counts as a failure unless the Job waits for deleted pods to reach a phase).
func podFailed(job *batchv1.Job, p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodFailed {
		return true
	}
	return p.DeletionTimestamp != nil && p.Status.Phase != corev1.PodSucceeded && !onlyReplaceFailed(job)
}

// tooManyFailedIndexes: more indexes failed than maxFailedIndexes allows, which
// ends the Job at once.
func tooManyFailedIndexes(job *batchv1.Job) bool {
	m := job.Spec.MaxFailedIndexes
	return perIndexLimit(job) && m != nil && len(failedIndexes(job)) > int(*m)
}

// endedWithFailedIndexes: every index succeeded or failed, and some failed.
func endedWithFailedIndexes(job *batchv1.Job) bool {
	failed := len(failedIndexes(job))
	done := len(parseIndexes(job.Status.CompletedIndexes, completions(job)))
	return perIndexLimit(job) && failed > 0 && failed+done >= completions(job)
}

// successPolicyMet reports the first success policy rule the completed indexes meet:
// all of succeededIndexes, or succeededCount of them (of all indexes without a set).
func successPolicyMet(job *batchv1.Job) (string, bool) {
	if job.Spec.SuccessPolicy == nil || !indexed(job) {
		return "", false
	}
	n := completions(job)
	done := map[int]bool{}
	for _, i := range parseIndexes(job.Status.CompletedIndexes, n) {
		done[i] = true
	}
	for i, rule := range job.Spec.SuccessPolicy.Rules {
		matched, want := len(done), 0
		if rule.SucceededIndexes != nil {
			set := parseIndexes(*rule.SucceededIndexes, n)
			matched, want = 0, len(set)
			for _, x := range set {
				if done[x] {
					matched++
				}
			}
		}
		if rule.SucceededCount != nil {
			want = int(*rule.SucceededCount)
		}
		if want > 0 && matched >= want {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}
