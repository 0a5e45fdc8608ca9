package cronjob

import (
	"context"
	"sort"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/controllers/workloads"
)

// maxMissed is how many missed start times are tolerated before warning that the
// schedule and the clock disagree.
const maxMissed = 100

// syncActive reconciles status.active with the Jobs that exist: finished ones leave
// it (and advance lastSuccessfulTime), running ones we own are in it.
func (cc *cjController) syncActive(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	byUID := map[types.UID]*batchv1.Job{}
	for _, j := range jobs {
		byUID[j.UID] = j
	}
	var active []corev1.ObjectReference
	listed := map[types.UID]bool{}
	for _, ref := range cj.Status.Active {
		j, ok := byUID[ref.UID]
		if !ok {
			// The cache may be behind: only a live read can say it is gone.
			live, err := cc.client.BatchV1().Jobs(cj.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) || (err == nil && live.UID != ref.UID) {
				continue
			}
			if err != nil {
				return err
			}
			j = live
		}
		if _, done := jobFinished(j); !done {
			active = append(active, ref)
			listed[ref.UID] = true
		}
	}
	for _, j := range jobs {
		ct, done := jobFinished(j)
		if done {
			if containsUID(cj.Status.Active, j.UID) {
				cc.rec.Eventf(cj, corev1.EventTypeNormal, "SawCompletedJob", "Saw completed job: %s, condition: %v", j.Name, ct)
			}
			if ct == batchv1.JobComplete && j.Status.CompletionTime != nil &&
				(cj.Status.LastSuccessfulTime == nil || cj.Status.LastSuccessfulTime.Before(j.Status.CompletionTime)) {
				cj.Status.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
			}
			continue
		}
		if !listed[j.UID] && j.DeletionTimestamp == nil {
			active = append(active, jobRef(j))
		}
	}
	cj.Status.Active = active
	return nil
}

func containsUID(refs []corev1.ObjectReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}

func jobRef(j *batchv1.Job) corev1.ObjectReference {
	return corev1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: j.Namespace,
		Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion}
}

// cleanupHistory deletes the oldest finished Jobs beyond the history limits.
func (cc *cjController) cleanupHistory(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	var ok, failed []*batchv1.Job
	for _, j := range jobs {
		if j.DeletionTimestamp != nil {
			continue
		}
		switch ct, _ := jobFinished(j); ct {
		case batchv1.JobComplete:
			ok = append(ok, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	if err := cc.trim(ctx, cj, ok, cj.Spec.SuccessfulJobsHistoryLimit); err != nil {
		return err
	}
	return cc.trim(ctx, cj, failed, cj.Spec.FailedJobsHistoryLimit)
}

func (cc *cjController) trim(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job, limit *int32) error {
	if limit == nil || len(jobs) <= int(*limit) {
		return nil
	}
	sort.Slice(jobs, func(i, k int) bool { return startOf(jobs[i]).Before(startOf(jobs[k])) })
	for _, j := range jobs[:len(jobs)-int(*limit)] {
		if err := cc.deleteJob(ctx, cj, j); err != nil {
			return err
		}
	}
	return nil
}

func startOf(j *batchv1.Job) time.Time {
	if j.Status.StartTime != nil {
		return j.Status.StartTime.Time
	}
	return j.CreationTimestamp.Time
}

func (cc *cjController) deleteJob(ctx context.Context, cj *batchv1.CronJob, j *batchv1.Job) error {
	bg := metav1.DeletePropagationBackground
	err := cc.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{
		PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &j.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	if err != nil {
		cc.rec.Eventf(cj, corev1.EventTypeWarning, "FailedDelete", "Deleted job: %v", err)
		return err
	}
	cc.rec.Eventf(cj, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted job %v", j.Name)
	return nil
}

// location is the CronJob's time zone, or the controller's own.
func location(cj *batchv1.CronJob) (*time.Location, error) {
	if cj.Spec.TimeZone == nil {
		return time.Local, nil
	}
	return time.LoadLocation(*cj.Spec.TimeZone)
}

// MostRecent returns the latest time in (earliest, now] the schedule fired, zero if
// none, and how many times it fired in that span. Only the latest is ever started:
// after downtime there is at most one catch-up run. Past maxMissed the walk jumps to
// two of the largest gaps seen before now (the count is then an estimate, only ever
// compared with maxMissed), so "@every 1s" after a month away stays cheap.
func MostRecent(s cron.Schedule, earliest, now time.Time) (time.Time, int) {
	var last, prev time.Time
	var gap time.Duration
	n := 0
	for t := s.Next(earliest); !t.IsZero() && !t.After(now); t = s.Next(t) {
		if !prev.IsZero() {
			gap = max(gap, t.Sub(prev))
		}
		last, prev, n = t, t, n+1
		if skip := now.Add(-2 * gap); n > maxMissed && skip.After(t) {
			n += int(skip.Sub(t) / gap)
			t, prev = skip, time.Time{}
		}
	}
	return last, n
}

// run starts the Job for the most recent scheduled time, if it is due and allowed.
func (cc *cjController) run(ctx context.Context, key string, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	loc, err := location(cj)
	if err != nil {
		cc.rec.Eventf(cj, corev1.EventTypeWarning, "UnknownTimeZone", "invalid timeZone: %q: %s", *cj.Spec.TimeZone, err)
		return nil
	}
	sched, err := cron.ParseStandard(cj.Spec.Schedule)
	if err != nil {
		cc.rec.Eventf(cj, corev1.EventTypeWarning, "UnparseableSchedule", "unparseable schedule: %q : %s", cj.Spec.Schedule, err)
		return nil
	}
	now := cc.now().In(loc)
	if next := sched.Next(now); !next.IsZero() {
		cc.ctrl.Queue.AddAfter(key, next.Sub(now)+100*time.Millisecond)
	}
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if w := now.Add(-time.Duration(*d) * time.Second); w.After(earliest) {
			earliest = w
		}
	}
	scheduled, missed := MostRecent(sched, earliest.In(loc), now)
	if scheduled.IsZero() {
		return nil
	}
	if missed > maxMissed {
		cc.rec.Eventf(cj, corev1.EventTypeWarning, "TooManyMissedTimes",
			"too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(now) {
		cc.rec.Eventf(cj, corev1.EventTypeWarning, "MissSchedule", "Missed scheduled time to start a job: %s", scheduled.Format(time.RFC1123Z))
		return nil
	}
	name := jobName(cj, scheduled)
	for _, j := range jobs {
		if j.Name == name {
			return nil // this time was already handled
		}
	}
	if len(cj.Status.Active) > 0 {
		switch cj.Spec.ConcurrencyPolicy {
		case batchv1.ForbidConcurrent:
			cc.rec.Eventf(cj, corev1.EventTypeNormal, "JobAlreadyActive", "Not starting job because prior execution is running and concurrency policy is Forbid")
			return nil
		case batchv1.ReplaceConcurrent:
			if err := cc.replaceActive(ctx, cj, jobs); err != nil {
				return err
			}
		}
	}
	return cc.createJob(ctx, cj, name, scheduled)
}

func jobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return cj.Name + "-" + strconv.FormatInt(scheduled.Unix()/60, 10)
}

func (cc *cjController) replaceActive(ctx context.Context, cj *batchv1.CronJob, jobs []*batchv1.Job) error {
	for _, ref := range cj.Status.Active {
		for _, j := range jobs {
			if j.UID == ref.UID {
				if err := cc.deleteJob(ctx, cj, j); err != nil {
					return err
				}
			}
		}
	}
	cj.Status.Active = nil
	return nil
}

func (cc *cjController) createJob(ctx context.Context, cj *batchv1.CronJob, name string, scheduled time.Time) error {
	t := &cj.Spec.JobTemplate
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: cj.Namespace, Labels: copyMap(t.Labels), Annotations: copyMap(t.Annotations),
			OwnerReferences: []metav1.OwnerReference{*workloads.NewControllerRef(cj, kindCronJob)},
		},
		Spec: *t.Spec.DeepCopy(),
	}
	if job.Annotations == nil {
		job.Annotations = map[string]string{}
	}
	job.Annotations[ScheduledTimestampAnnotation] = scheduled.Format(time.RFC3339)
	created, err := cc.client.BatchV1().Jobs(cj.Namespace).Create(ctx, job, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		// Created by an earlier sync whose status write was lost; its time is done.
	case err != nil:
		cc.rec.Eventf(cj, corev1.EventTypeWarning, "FailedCreate", "Error creating job: %v", err)
		return err
	default:
		cc.rec.Eventf(cj, corev1.EventTypeNormal, "SuccessfulCreate", "Created job %v", created.Name)
		cj.Status.Active = append(cj.Status.Active, jobRef(created))
	}
	st := metav1.NewTime(scheduled)
	cj.Status.LastScheduleTime = &st
	return nil
}

func copyMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
