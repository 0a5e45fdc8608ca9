package job

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/controllers/workloads"
)

func activePods(pods []*corev1.Pod) (active, terminating []*corev1.Pod) {
	for _, p := range pods {
		switch {
		case workloads.IsPodActive(p):
			active = append(active, p)
		case workloads.IsPodTerminating(p):
			terminating = append(terminating, p)
		}
	}
	return active, terminating
}

func (jc *jobController) syncRunning(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod, satisfied bool) error {
	now := jc.opts.Now()
	policyMsg, err := jc.track(ctx, key, job, pods)
	if err != nil {
		return err
	}
	active, terminating := activePods(pods)
	before := job.Status.DeepCopy()
	if perIndexLimit(job) && job.Status.FailedIndexes == nil {
		job.Status.FailedIndexes = new("")
	}
	if !hasTrue(job, batchv1.JobFailureTarget) && !hasTrue(job, batchv1.JobSuccessCriteriaMet) {
		if reason, msg := jc.failureTarget(job, policyMsg, now); reason != "" {
			setCondition(job, batchv1.JobFailureTarget, corev1.ConditionTrue, reason, msg, now)
		} else if msg, ok := successPolicyMet(job); ok {
			setCondition(job, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, reasonSuccessPolicy, msg, now)
		} else if endedWithFailedIndexes(job) {
			setCondition(job, batchv1.JobFailureTarget, corev1.ConditionTrue, reasonFailedIndexes, msgFailedIndexes, now)
		} else if successMet(job, len(active)) {
			setCondition(job, batchv1.JobSuccessCriteriaMet, corev1.ConditionTrue, reasonCompletions, msgCompletions, now)
		}
	}
	var manageErr error
	switch {
	case hasTrue(job, batchv1.JobFailureTarget) || hasTrue(job, batchv1.JobSuccessCriteriaMet):
		manageErr = jc.finish(ctx, job, pods, active, terminating, now)
	case job.Spec.Suspend != nil && *job.Spec.Suspend:
		jc.suspend(job, now)
		manageErr = jc.deletePods(ctx, job, active)
	default:
		jc.resume(job, now)
		var requeue time.Duration
		if satisfied {
			requeue, manageErr = jc.manage(ctx, job, pods, active, terminating, now)
		}
		if requeue > 0 {
			jc.ctrl.Queue.AddAfter(key, requeue)
		}
		if d := job.Spec.ActiveDeadlineSeconds; d != nil && job.Status.StartTime != nil {
			jc.ctrl.Queue.AddAfter(key, time.Until(job.Status.StartTime.Add(time.Duration(*d)*time.Second))+10*time.Millisecond)
		}
	}
	setCounts(job, active, terminating)
	if !equality.Semantic.DeepEqual(before, &job.Status) {
		return errors.Join(manageErr, jc.writeStatus(ctx, job))
	}
	return manageErr
}

func setCounts(job *batchv1.Job, active, terminating []*corev1.Pod) {
	var ready int32
	for _, p := range active {
		if workloads.IsPodReady(p) {
			ready++
		}
	}
	job.Status.Active = int32(len(active))
	job.Status.Ready = &ready
	t := int32(len(terminating))
	job.Status.Terminating = &t
}

// finish stops what is left of a Job that met its success or failure criteria, and
// once no pod remains uncounted or running, records the final condition.
func (jc *jobController) finish(ctx context.Context, job *batchv1.Job, pods, active, terminating []*corev1.Pod, now time.Time) error {
	if len(active) > 0 {
		return jc.deletePods(ctx, job, active)
	}
	for _, p := range pods {
		if hasFinalizer(p) && !jc.isUncounting(job.Namespace+"/"+job.Name, p.UID) {
			return nil // counted on the next sync
		}
	}
	if len(terminating) > 0 {
		return nil
	}
	if c := getCondition(job, batchv1.JobFailureTarget); c != nil && c.Status == corev1.ConditionTrue {
		if setCondition(job, batchv1.JobFailed, corev1.ConditionTrue, c.Reason, c.Message, now) {
			jc.rec.Event(job, corev1.EventTypeWarning, c.Reason, c.Message)
		}
		return nil
	}
	met := getCondition(job, batchv1.JobSuccessCriteriaMet)
	if setCondition(job, batchv1.JobComplete, corev1.ConditionTrue, met.Reason, met.Message, now) {
		t := metav1.NewTime(now)
		job.Status.CompletionTime = &t
		jc.rec.Event(job, corev1.EventTypeNormal, "Completed", "Job completed")
	}
	return nil
}

// suspend records the suspension; the caller deletes the running pods.
func (jc *jobController) suspend(job *batchv1.Job, now time.Time) {
	if setCondition(job, batchv1.JobSuspended, corev1.ConditionTrue, reasonSuspended, jobSuspendedMessage, now) {
		jc.rec.Event(job, corev1.EventTypeNormal, "Suspended", jobSuspendedMessage)
	}
}

// resume starts the clock: at first start, and again after a suspension, so time
// spent suspended does not count against activeDeadlineSeconds.
func (jc *jobController) resume(job *batchv1.Job, now time.Time) {
	if hasTrue(job, batchv1.JobSuspended) {
		setCondition(job, batchv1.JobSuspended, corev1.ConditionFalse, reasonResumed, jobResumedMessage, now)
		jc.rec.Event(job, corev1.EventTypeNormal, "Resumed", jobResumedMessage)
		job.Status.StartTime = nil
	}
	if job.Status.StartTime == nil {
		t := metav1.NewTime(now)
		job.Status.StartTime = &t
	}
}

// manage creates and deletes pods towards parallelism and completions. It returns how
// long to wait before looking again when a retry is held back by backoff.
func (jc *jobController) manage(ctx context.Context, job *batchv1.Job, pods, active, terminating []*corev1.Pod, now time.Time) (time.Duration, error) {
	busy := active
	if job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed {
		// Replace a pod only once it has fully failed, never while it still runs.
		busy = append(append([]*corev1.Pod(nil), active...), terminating...)
	}
	var create []*int
	var extra []*corev1.Pod
	if indexed(job) {
		create, extra = planIndexed(job, active, busy)
	} else {
		create, extra = planNonIndexed(job, active, busy)
	}
	if err := jc.deletePods(ctx, job, extra); err != nil || len(create) == 0 {
		return 0, err
	}
	if wait := jc.backoffLeft(job, pods, now); wait > 0 {
		return wait, nil
	}
	// Counts in a stale cached Job lag the pods whose finalizers are already gone, and
	// would ask for pods that already succeeded: create only from the latest Job.
	live, err := jc.client.BatchV1().Jobs(job.Namespace).Get(ctx, job.Name, metav1.GetOptions{})
	if err != nil {
		return 0, err
	}
	if live.ResourceVersion != job.ResourceVersion {
		return 0, nil // the informer will bring the newer Job and another sync
	}
	return 0, jc.createPods(ctx, job.Namespace+"/"+job.Name, job, create, indexFailures(job, pods))
}

func parallelism(job *batchv1.Job) int {
	if job.Spec.Parallelism == nil {
		return 1
	}
	return int(*job.Spec.Parallelism)
}

func planNonIndexed(job *batchv1.Job, active, busy []*corev1.Pod) ([]*int, []*corev1.Pod) {
	want := parallelism(job)
	switch {
	case job.Spec.Completions == nil && job.Status.Succeeded > 0:
		want = 0 // one success is enough: let the running ones finish
	case job.Spec.Completions != nil:
		want = min(want, int(*job.Spec.Completions-job.Status.Succeeded))
	}
	want = max(want, 0)
	if len(active) > want && job.Spec.Completions != nil {
		extra := append([]*corev1.Pod(nil), active...)
		workloads.SortForDeletion(extra)
		return nil, extra[:len(active)-want]
	}
	return make([]*int, max(want-len(busy), 0)), nil
}

// planIndexed creates the lowest indexes that are neither done, failed nor running, and
// deletes duplicates and pods beyond parallelism.
func planIndexed(job *batchv1.Job, active, busy []*corev1.Pod) ([]*int, []*corev1.Pod) {
	n := completions(job)
	done := map[int]bool{} // succeeded or failed for good: never run again
	for _, i := range append(parseIndexes(job.Status.CompletedIndexes, n), failedIndexes(job)...) {
		done[i] = true
	}
	running := map[int]bool{}
	var extra []*corev1.Pod
	for _, p := range busy {
		idx, ok := podIndex(p)
		if ok && idx < n && !done[idx] && !running[idx] {
			running[idx] = true
			continue
		}
		if workloads.IsPodActive(p) {
			extra = append(extra, p)
		}
	}
	room := parallelism(job) - len(running)
	var create []*int
	for i := 0; i < n && room > 0; i++ {
		if !done[i] && !running[i] {
			create = append(create, &i)
			room--
		}
	}
	return create, extra
}

// backoffLeft is how long the next pod must wait after the latest failure.
func (jc *jobController) backoffLeft(job *batchv1.Job, pods []*corev1.Pod, now time.Time) time.Duration {
	var last time.Time
	for _, p := range pods {
		if p.Status.Phase == corev1.PodFailed || p.DeletionTimestamp != nil {
			if t := finishTime(p); t.After(last) {
				last = t
			}
		}
	}
	if last.IsZero() {
		return 0
	}
	return last.Add(backoffDelay(job.Status.Failed, jc.opts.BackoffBase, jc.opts.BackoffMax)).Sub(now)
}

// createPods creates a pod per entry of indexes (nil: not Indexed); failures are the
// counted failures of each index so far.
func (jc *jobController) createPods(ctx context.Context, key string, job *batchv1.Job, indexes []*int, failures map[int]int) error {
	jc.exp.ExpectCreations(key, len(indexes))
	var attempted atomic.Int32
	_, err := workloads.SlowStartBatch(len(indexes), 1, func(i int) error {
		attempted.Add(1)
		pod, err := jc.client.CoreV1().Pods(job.Namespace).Create(ctx, newPod(job, indexes[i], failures), metav1.CreateOptions{})
		if err != nil {
			jc.exp.CreationObserved(key)
			jc.rec.Eventf(job, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
			return err
		}
		jc.rec.Eventf(job, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
		return nil
	})
	for i := int(attempted.Load()); i < len(indexes); i++ {
		jc.exp.CreationObserved(key)
	}
	return err
}

func (jc *jobController) deletePods(ctx context.Context, job *batchv1.Job, pods []*corev1.Pod) error {
	var errs []error
	for _, p := range pods {
		err := jc.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &p.UID}})
		switch {
		case err == nil:
			jc.rec.Eventf(job, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", p.Name)
		case !apierrors.IsNotFound(err) && !apierrors.IsConflict(err):
			jc.rec.Eventf(job, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// newPod is a pod of job; an Indexed Job's pod carries its index in its name,
// hostname, annotation, label and JOB_COMPLETION_INDEX, and with a per-index limit,
// the failures of its index so far.
func newPod(job *batchv1.Job, index *int, failures map[int]int) *corev1.Pod {
	pod := workloads.PodFromTemplate(job.Spec.Template.DeepCopy(), job, kindJob)
	pod.Finalizers = append(pod.Finalizers, TrackingFinalizer)
	if index == nil {
		return pod
	}
	idx := strconv.Itoa(*index)
	pod.GenerateName = fmt.Sprintf("%s-%s-", job.Name, idx)
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = idx
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = idx
	if perIndexLimit(job) {
		pod.Annotations[batchv1.JobIndexFailureCountAnnotation] = strconv.Itoa(failures[*index])
	}
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = fmt.Sprintf("%s-%s", job.Name, idx)
	}
	env := corev1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: fmt.Sprintf("metadata.annotations['%s']", batchv1.JobCompletionIndexAnnotation)}}}
	for i := range pod.Spec.InitContainers {
		pod.Spec.InitContainers[i].Env = append(pod.Spec.InitContainers[i].Env, env)
	}
	for i := range pod.Spec.Containers {
		pod.Spec.Containers[i].Env = append(pod.Spec.Containers[i].Env, env)
	}
	return pod
}
