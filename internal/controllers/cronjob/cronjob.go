// Package cronjob creates Jobs from CronJobs on their schedule: named
// <cronjob>-<scheduled time in unix minutes>, with concurrencyPolicy,
// startingDeadlineSeconds, history limits, suspend and time zones. After downtime it
// starts at most one Job, for the most recent missed time.
package cronjob

import (
	"context"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

// ScheduledTimestampAnnotation records on each Job the time it was scheduled for.
const ScheduledTimestampAnnotation = batchv1.CronJobScheduledTimestampAnnotation

var kindCronJob = batchv1.SchemeGroupVersion.WithKind("CronJob")

// Options tune the controller; tests inject a clock.
type Options struct {
	Now func() time.Time
}

type cjController struct {
	now      func() time.Time
	client   kubernetes.Interface
	cronJobs batchlisters.CronJobLister
	jobs     batchlisters.JobLister
	rec      record.EventRecorder
	ctrl     *controller.Controller
}

// New returns the CronJob controller.
func New(c *controller.Context) *controller.Controller { return NewWithOptions(c, Options{}) }

// NewWithOptions returns the CronJob controller with opts.
func NewWithOptions(c *controller.Context, opts Options) *controller.Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	ci := c.Informers.Batch().V1().CronJobs()
	ji := c.Informers.Batch().V1().Jobs()
	cc := &cjController{now: opts.Now, client: c.Client, cronJobs: ci.Lister(), jobs: ji.Lister(),
		rec: c.Recorder("cronjob-controller")}
	cc.ctrl = controller.New("cronjob", cc.sync, 2)
	cc.ctrl.Watch(ci.Informer(), cc.ctrl.Handler())
	cc.ctrl.Watch(ji.Informer(), controller.Each(cc.jobChanged))
	return cc.ctrl
}

func (cc *cjController) jobChanged(obj any) {
	job, ok := controller.Unwrap[*batchv1.Job](obj)
	if !ok {
		return
	}
	if key, ok := controller.ControllerKey(job, kindCronJob.Kind); ok {
		cc.ctrl.Queue.Add(key)
	}
}

func (cc *cjController) sync(ctx context.Context, key string) error {
	cached, found, err := controller.Get(key, cc.cronJobs.CronJobs)
	if !found {
		return err
	}
	cj := cached.DeepCopy()
	jobs, err := cc.ownedJobs(cj)
	if err != nil {
		return err
	}
	if err := cc.syncActive(ctx, cj, jobs); err != nil {
		return err
	}
	if err := cc.cleanupHistory(ctx, cj, jobs); err != nil {
		return err
	}
	var runErr error
	if cj.DeletionTimestamp == nil && (cj.Spec.Suspend == nil || !*cj.Spec.Suspend) {
		runErr = cc.run(ctx, key, cj, jobs)
	}
	if err := cc.writeStatus(ctx, cached, cj); err != nil {
		return err
	}
	return runErr
}

func (cc *cjController) ownedJobs(cj *batchv1.CronJob) ([]*batchv1.Job, error) {
	all, err := cc.jobs.Jobs(cj.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*batchv1.Job
	for _, j := range all {
		if ref := metav1.GetControllerOf(j); ref != nil && ref.UID == cj.UID {
			out = append(out, j)
		}
	}
	return out, nil
}

func (cc *cjController) writeStatus(ctx context.Context, cached, cj *batchv1.CronJob) error {
	if statusEqual(&cached.Status, &cj.Status) {
		return nil
	}
	_, err := cc.client.BatchV1().CronJobs(cj.Namespace).UpdateStatus(ctx, cj, metav1.UpdateOptions{})
	return err
}

func statusEqual(a, b *batchv1.CronJobStatus) bool {
	if len(a.Active) != len(b.Active) || !timeEqual(a.LastScheduleTime, b.LastScheduleTime) ||
		!timeEqual(a.LastSuccessfulTime, b.LastSuccessfulTime) {
		return false
	}
	for i := range a.Active {
		if a.Active[i].UID != b.Active[i].UID {
			return false
		}
	}
	return true
}

func timeEqual(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

// jobFinished returns the Job's Complete or Failed condition type, if any.
func jobFinished(j *batchv1.Job) (batchv1.JobConditionType, bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == corev1.ConditionTrue {
			return c.Type, true
		}
	}
	return "", false
}
