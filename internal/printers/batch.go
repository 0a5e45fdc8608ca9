package printers

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
)

func addBatch(m map[schema.GroupKind]*Printer) {
	jobSpecDoc := batchv1.JobSpec{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Status", typeString, "The job's most significant condition, or Running."),
		col("Completions", typeString, batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
		col("Duration", typeString, "How long the job ran, or has been running."),
		ageColumn(),
		containersColumn(), imagesColumn(), selectorColumn(jobSpecDoc["selector"]),
	}, jobRow), "batch", "Job")

	cronSpecDoc, cronStatusDoc := batchv1.CronJobSpec{}.SwaggerDoc(), batchv1.CronJobStatus{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Schedule", typeString, cronSpecDoc["schedule"]),
		col("Timezone", typeString, cronSpecDoc["timeZone"]),
		col("Suspend", typeBoolean, cronSpecDoc["suspend"]),
		col("Active", typeInteger, cronStatusDoc["active"]),
		col("Last Schedule", typeString, cronStatusDoc["lastScheduleTime"]),
		ageColumn(),
		containersColumn(), imagesColumn(), selectorColumn(jobSpecDoc["selector"]),
	}, cronJobRow), "batch", "CronJob")
}

func jobRow(job *batchv1.Job, now time.Time) []interface{} {
	names, images := containerCells(job.Spec.Template.Spec.Containers)
	return []interface{}{
		job.Name,
		jobStatus(job),
		jobCompletions(job),
		jobDuration(job, now),
		age(now, job.CreationTimestamp),
		names, images, metav1.FormatLabelSelector(job.Spec.Selector),
	}
}

// jobStatus is the job's most significant condition; a finished job stays
// Complete or Failed even while it is being deleted.
func jobStatus(job *batchv1.Job) string {
	switch {
	case jobCondition(job, batchv1.JobComplete):
		return "Complete"
	case jobCondition(job, batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(job, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(job, batchv1.JobFailureTarget):
		return "FailureTarget"
	default:
		return "Running"
	}
}

// jobCondition reports whether the first condition of type t is True.
func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// jobCompletions is succeeded/wanted; a job without completions is done after one
// success, however many pods run in parallel ("0/1 of 3").
func jobCompletions(job *batchv1.Job) string {
	if job.Spec.Completions != nil {
		return fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	}
	if p := int32Value(job.Spec.Parallelism); p > 1 {
		return fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, p)
	}
	return fmt.Sprintf("%d/1", job.Status.Succeeded)
}

// jobDuration is how long the job ran, or has been running; empty before it starts.
func jobDuration(job *batchv1.Job, now time.Time) string {
	switch {
	case job.Status.StartTime == nil:
		return ""
	case job.Status.CompletionTime == nil:
		return duration.HumanDuration(now.Sub(job.Status.StartTime.Time))
	default:
		return duration.HumanDuration(job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
	}
}

func cronJobRow(cj *batchv1.CronJob, now time.Time) []interface{} {
	last := none
	if cj.Status.LastScheduleTime != nil {
		last = age(now, *cj.Status.LastScheduleTime)
	}
	tz := none
	if cj.Spec.TimeZone != nil {
		tz = *cj.Spec.TimeZone
	}
	names, images := containerCells(cj.Spec.JobTemplate.Spec.Template.Spec.Containers)
	return []interface{}{
		cj.Name,
		cj.Spec.Schedule,
		tz,
		boolPtr(cj.Spec.Suspend),
		int64(len(cj.Status.Active)),
		last,
		age(now, cj.CreationTimestamp),
		names, images, metav1.FormatLabelSelector(cj.Spec.JobTemplate.Spec.Selector),
	}
}
