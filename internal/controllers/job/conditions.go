package job

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Reasons and messages as Kubernetes writes them, which kubectl describe shows.
const (
	reasonBackoffLimit  = "BackoffLimitExceeded"
	reasonDeadline      = "DeadlineExceeded"
	reasonPolicy        = "PodFailurePolicy"
	reasonCompletions   = "CompletionsReached"
	msgBackoffLimit     = "Job has reached the specified backoff limit"
	msgDeadline         = "Job was active longer than specified deadline"
	msgCompletions      = "Reached expected number of succeeded pods"
	reasonSuspended     = "JobSuspended"
	reasonResumed       = "JobResumed"
	jobSuspendedMessage = "Job suspended"
	jobResumedMessage   = "Job resumed"
)

func getCondition(job *batchv1.Job, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range job.Status.Conditions {
		if job.Status.Conditions[i].Type == t {
			return &job.Status.Conditions[i]
		}
	}
	return nil
}

func hasTrue(job *batchv1.Job, t batchv1.JobConditionType) bool {
	c := getCondition(job, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

// setCondition sets a condition; it reports whether anything changed.
func setCondition(job *batchv1.Job, t batchv1.JobConditionType, s corev1.ConditionStatus, reason, msg string, now time.Time) bool {
	c := getCondition(job, t)
	if c != nil && c.Status == s && c.Reason == reason && c.Message == msg {
		return false
	}
	nc := batchv1.JobCondition{Type: t, Status: s, Reason: reason, Message: msg,
		LastProbeTime: metav1.NewTime(now), LastTransitionTime: metav1.NewTime(now)}
	if c != nil {
		if c.Status == s {
			nc.LastTransitionTime = c.LastTransitionTime
		}
		*c = nc
	} else {
		job.Status.Conditions = append(job.Status.Conditions, nc)
	}
	return true
}

// finished reports whether job reached Complete or Failed; nothing more happens then.
func finished(job *batchv1.Job) bool {
	return hasTrue(job, batchv1.JobComplete) || hasTrue(job, batchv1.JobFailed)
}

// syncFinished lets go of any pods still tracked and applies ttlSecondsAfterFinished.
func (jc *jobController) syncFinished(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod) error {
	var tracked []*corev1.Pod
	for _, p := range pods {
		if hasFinalizer(p) {
			tracked = append(tracked, p)
		}
	}
	if err := jc.removeFinalizers(ctx, tracked); err != nil {
		return err
	}
	if job.Spec.TTLSecondsAfterFinished == nil || job.DeletionTimestamp != nil {
		return nil
	}
	var at time.Time
	for _, c := range job.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			at = c.LastTransitionTime.Time
		}
	}
	if job.Status.CompletionTime != nil {
		at = job.Status.CompletionTime.Time
	}
	expire := at.Add(time.Duration(*job.Spec.TTLSecondsAfterFinished) * time.Second)
	if left := expire.Sub(jc.opts.Now()); left > 0 {
		jc.ctrl.Queue.AddAfter(key, left)
		return nil
	}
	// Foreground, as Kubernetes' TTL controller does: the Job goes after its pods.
	fg := metav1.DeletePropagationForeground
	err := jc.client.BatchV1().Jobs(job.Namespace).Delete(ctx, job.Name, metav1.DeleteOptions{
		PropagationPolicy: &fg, Preconditions: &metav1.Preconditions{UID: &job.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// failureTarget decides whether the running job has failed; the reason is empty if not.
func (jc *jobController) failureTarget(job *batchv1.Job, policyMsg string, now time.Time) (string, string) {
	switch {
	case policyMsg != "":
		return reasonPolicy, policyMsg
	case tooManyFailedIndexes(job):
		return reasonMaxFailedIndexes, msgMaxFailedIndexes
	case job.Spec.BackoffLimit != nil && job.Status.Failed > *job.Spec.BackoffLimit:
		return reasonBackoffLimit, msgBackoffLimit
	case pastDeadline(job, now):
		return reasonDeadline, msgDeadline
	}
	return "", ""
}

func pastDeadline(job *batchv1.Job, now time.Time) bool {
	d := job.Spec.ActiveDeadlineSeconds
	return d != nil && job.Status.StartTime != nil && !now.Before(job.Status.StartTime.Add(time.Duration(*d)*time.Second))
}

// successMet: enough pods (or indexes) succeeded. Without completions, one success
// is enough once the other pods are done.
func successMet(job *batchv1.Job, active int) bool {
	if indexed(job) {
		return len(parseIndexes(job.Status.CompletedIndexes, completions(job))) >= completions(job)
	}
	if job.Spec.Completions == nil {
		return job.Status.Succeeded > 0 && active == 0
	}
	return job.Status.Succeeded >= *job.Spec.Completions
}
