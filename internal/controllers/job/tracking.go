package job

import (
	"context"
	"errors"
	"strconv"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Counting finished pods exactly once, in three steps that each survive a crash:
// (1) the pod's uid goes into status.uncountedTerminatedPods, (2) its finalizer is
// removed, (3) the uid leaves uncountedTerminatedPods and the counter goes up.

// finishedPods sorts pods that finished since the last count into succeeded and
// failed, and the ones to let go uncounted (ignored by the failure policy, or a
// second success of an index). policyMsg is set when a FailJob rule matched.
type finishedPods struct {
	succeeded, failed, ignored      []*corev1.Pod
	completedIndexes, failedIndexes string
	policyMsg                       string
}

func (jc *jobController) classify(key string, job *batchv1.Job, pods []*corev1.Pod) finishedPods {
	f := finishedPods{completedIndexes: job.Status.CompletedIndexes}
	if job.Status.FailedIndexes != nil {
		f.failedIndexes = *job.Status.FailedIndexes
	}
	seen := map[types.UID]bool{}
	if u := job.Status.UncountedTerminatedPods; u != nil {
		for _, uid := range append(append([]types.UID(nil), u.Succeeded...), u.Failed...) {
			seen[uid] = true
		}
	}
	for _, p := range pods {
		if !hasFinalizer(p) || seen[p.UID] || jc.isUncounting(key, p.UID) {
			continue
		}
		switch {
		case p.Status.Phase == corev1.PodSucceeded:
			f.addSucceeded(job, p)
		case podFailed(job, p):
			// (A pod deleted before it finished will never succeed: it failed.)
			action, msg := matchFailurePolicy(job.Spec.PodFailurePolicy, p)
			switch {
			case action != nil && *action == batchv1.PodFailurePolicyActionIgnore:
				f.ignored = append(f.ignored, p)
				continue
			case action != nil && *action == batchv1.PodFailurePolicyActionFailJob && f.policyMsg == "":
				f.policyMsg = msg
			}
			if idx, ok := podIndex(p); ok && idx < completions(job) && indexFails(job, p, action) {
				f.failedIndexes = addIndex(f.failedIndexes, idx, completions(job))
			}
			f.failed = append(f.failed, p)
		}
	}
	return f
}

func (f *finishedPods) addSucceeded(job *batchv1.Job, p *corev1.Pod) {
	if !indexed(job) {
		f.succeeded = append(f.succeeded, p)
		return
	}
	idx, ok := podIndex(p)
	done := parseIndexes(f.completedIndexes, completions(job))
	if !ok || idx >= completions(job) || contains(done, idx) {
		f.ignored = append(f.ignored, p)
		return
	}
	f.completedIndexes = addIndex(f.completedIndexes, idx, completions(job))
	f.succeeded = append(f.succeeded, p)
}

func contains(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// track counts pods that finished. It returns the FailJob message if the pod failure
// policy fails the Job.
func (jc *jobController) track(ctx context.Context, key string, job *batchv1.Job, pods []*corev1.Pod) (string, error) {
	f := jc.classify(key, job, pods)
	if job.Status.UncountedTerminatedPods == nil {
		job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	}
	u := job.Status.UncountedTerminatedPods
	if len(f.succeeded)+len(f.failed) > 0 {
		for _, p := range f.succeeded {
			u.Succeeded = append(u.Succeeded, p.UID)
		}
		for _, p := range f.failed {
			u.Failed = append(u.Failed, p.UID)
		}
		job.Status.CompletedIndexes = f.completedIndexes
		if perIndexLimit(job) {
			job.Status.FailedIndexes = &f.failedIndexes
		}
		if err := jc.writeStatus(ctx, job); err != nil {
			return "", err
		}
		if u = job.Status.UncountedTerminatedPods; u == nil {
			u = &batchv1.UncountedTerminatedPods{}
		}
	}
	inUncounted := map[types.UID]bool{}
	for _, uid := range append(append([]types.UID(nil), u.Succeeded...), u.Failed...) {
		inUncounted[uid] = true
	}
	release := f.ignored
	for _, p := range pods {
		if inUncounted[p.UID] && hasFinalizer(p) {
			release = append(release, p)
		}
	}
	if err := jc.removeFinalizers(ctx, release); err != nil {
		return f.policyMsg, err
	}
	for _, p := range release {
		jc.markUncounting(key, p.UID)
	}
	if len(inUncounted) == 0 {
		return f.policyMsg, nil
	}
	job.Status.Succeeded += int32(len(u.Succeeded))
	job.Status.Failed += int32(len(u.Failed))
	job.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
	return f.policyMsg, jc.writeStatus(ctx, job)
}

var finalizerPatch = []byte(`{"metadata":{"$deleteFromPrimitiveList/finalizers":["` + TrackingFinalizer + `"]}}`)

func (jc *jobController) removeFinalizers(ctx context.Context, pods []*corev1.Pod) error {
	var errs []error
	for _, p := range pods {
		_, err := jc.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, finalizerPatch, metav1.PatchOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (jc *jobController) writeStatus(ctx context.Context, job *batchv1.Job) error {
	updated, err := jc.client.BatchV1().Jobs(job.Namespace).UpdateStatus(ctx, job, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	*job = *updated
	return nil
}

func indexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

func completions(job *batchv1.Job) int {
	if job.Spec.Completions == nil {
		return 0
	}
	return int(*job.Spec.Completions)
}

func podIndex(p *corev1.Pod) (int, bool) {
	v, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}
