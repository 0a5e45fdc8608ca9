// Package job runs Jobs: pods until enough succeed (completions, parallelism, Indexed
// mode), retries with backoff up to backoffLimit, deadlines, pod failure policy,
// suspend, and TTL after finishing. Finished pods are counted through the
// batch.kubernetes.io/job-tracking finalizer, so a pod is counted exactly once even if
// it is deleted right after it finishes.
package job

import (
	"context"
	"sync"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/workloads"
)

// TrackingFinalizer keeps a finished pod until the Job has counted it.
const TrackingFinalizer = batchv1.JobTrackingFinalizer

var kindJob = batchv1.SchemeGroupVersion.WithKind("Job")

// Options tune the controller; the zero value gives Kubernetes' timings.
type Options struct {
	Now         func() time.Time
	BackoffBase time.Duration // first retry delay; 10s
	BackoffMax  time.Duration // longest retry delay; 6m
}

type jobController struct {
	opts   Options
	client kubernetes.Interface
	jobs   batchlisters.JobLister
	pods   corelisters.PodLister
	exp    *workloads.Expectations
	rec    record.EventRecorder
	ctrl   *controller.Controller

	// uncounting holds, per Job, the pods whose finalizer this controller removed but
	// the cache may still show: counting them again would count them twice.
	mu         sync.Mutex
	uncounting map[string]map[types.UID]bool
}

// New returns the Job controller.
func New(c *controller.Context) *controller.Controller { return NewWithOptions(c, Options{}) }

// NewWithOptions returns the Job controller with opts.
func NewWithOptions(c *controller.Context, opts Options) *controller.Controller {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BackoffBase == 0 {
		opts.BackoffBase = 10 * time.Second
	}
	if opts.BackoffMax == 0 {
		opts.BackoffMax = 6 * time.Minute
	}
	ji := c.Informers.Batch().V1().Jobs()
	pi := c.Informers.Core().V1().Pods()
	jc := &jobController{opts: opts, client: c.Client, jobs: ji.Lister(), pods: pi.Lister(),
		exp: workloads.NewExpectations(), rec: c.Recorder("job-controller"), uncounting: map[string]map[types.UID]bool{}}
	jc.ctrl = controller.New("job", jc.sync, 5)
	jc.ctrl.Watch(ji.Informer(), jc.ctrl.Handler())
	jc.ctrl.Watch(pi.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { jc.podEvent(obj, true) },
		UpdateFunc: func(_, cur any) { jc.podEvent(cur, false) },
		DeleteFunc: func(obj any) { jc.podEvent(obj, false) },
	})
	return jc.ctrl
}

func (jc *jobController) podEvent(obj any, added bool) {
	deleted := false
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj, deleted = t.Obj, true
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	key, ok := controller.ControllerKey(pod, kindJob.Kind)
	if !ok {
		return
	}
	if added && pod.DeletionTimestamp == nil {
		jc.exp.CreationObserved(key)
	}
	if deleted || !hasFinalizer(pod) {
		jc.mu.Lock()
		delete(jc.uncounting[key], pod.UID)
		jc.mu.Unlock()
	}
	jc.ctrl.Queue.Add(key)
}

func hasFinalizer(pod *corev1.Pod) bool {
	for _, f := range pod.Finalizers {
		if f == TrackingFinalizer {
			return true
		}
	}
	return false
}

func (jc *jobController) isUncounting(key string, uid types.UID) bool {
	jc.mu.Lock()
	defer jc.mu.Unlock()
	return jc.uncounting[key][uid]
}

func (jc *jobController) markUncounting(key string, uid types.UID) {
	jc.mu.Lock()
	defer jc.mu.Unlock()
	if jc.uncounting[key] == nil {
		jc.uncounting[key] = map[types.UID]bool{}
	}
	jc.uncounting[key][uid] = true
}

func (jc *jobController) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	cached, err := jc.jobs.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		jc.exp.Forget(key)
		return jc.releaseOrphans(ctx, ns, name, "")
	}
	if err != nil {
		return err
	}
	job := cached.DeepCopy()
	// Read before the pods: a creation seen after listing them must still hold us back.
	satisfied := jc.exp.Satisfied(key)
	pods, err := jc.claimPods(ctx, job)
	if err != nil {
		return err
	}
	if err := jc.releaseOrphans(ctx, ns, name, job.UID); err != nil {
		return err
	}
	if finished(job) {
		return jc.syncFinished(ctx, key, job, pods)
	}
	return jc.syncRunning(ctx, key, job, pods, satisfied)
}

func (jc *jobController) claimPods(ctx context.Context, job *batchv1.Job) ([]*corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(job.Spec.Selector)
	if err != nil || sel.Empty() {
		return nil, nil
	}
	all, err := jc.pods.Pods(job.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	c := workloads.PodClaimer(jc.client, job, kindJob, sel, jc.client.BatchV1().Jobs(job.Namespace).Get)
	return workloads.Claim(ctx, c, all)
}

// releaseOrphans removes the tracking finalizer from pods of a Job named name that no
// longer exists (or was replaced by one with another uid): nobody will count them, and
// the finalizer would keep them forever.
func (jc *jobController) releaseOrphans(ctx context.Context, ns, name string, keep types.UID) error {
	all, err := jc.pods.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var stale []*corev1.Pod
	for _, p := range all {
		ref := metav1.GetControllerOf(p)
		if ref != nil && ref.Kind == kindJob.Kind && ref.Name == name && ref.UID != keep && hasFinalizer(p) {
			stale = append(stale, p)
		}
	}
	return jc.removeFinalizers(ctx, stale)
}
