// Package scheduler assigns pending pods to nodes: a priority queue with backoff, a
// cache of nodes and the pods on them, a cycle that filters and scores nodes with
// the plugins in ./plugins, preemption, and binding through pods/binding. When a pod
// fits nowhere it says why, per node count and reason, in an event and in the pod's
// PodScheduled condition.
package scheduler

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	fw "skiff/internal/scheduler/framework"
	"skiff/internal/scheduler/plugins"
)

// maxInFlightBinds bounds concurrent binding calls so a burst of pods cannot open
// thousands of requests against the API server at once.
const maxInFlightBinds = 256

// Scheduler places pods on nodes. Build it with New, start the informer factory,
// then call Run.
type Scheduler struct {
	client    kubernetes.Interface
	recorder  record.EventRecorder
	cfg       Config
	queue     *Queue
	cache     *Cache
	prof      *profile
	podLister corelisters.PodLister
	pdbLister policylisters.PodDisruptionBudgetLister
	synced    []cache.InformerSynced
	handlers  []registration // to detach from informers it shares
	workers   int
	rand      *rand.Rand
	now       func() time.Time
	bindSem   chan struct{}
	metrics   *metrics

	// Owned by the scheduling goroutine: where the next cycle starts filtering and
	// buffers reused across cycles so the hot path does not allocate per node.
	nextStart   int
	statusBuf   []*fw.Status
	feasibleBuf []*fw.NodeInfo
	totalBuf    []int64
	rawBuf      []int64
}

// New builds a scheduler and registers its event handlers on the informers. The
// caller starts the factory afterwards.
func New(client kubernetes.Interface, inf informers.SharedInformerFactory, recorder record.EventRecorder, cfg Config) (*Scheduler, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.SchedulerName == "" {
		cfg.SchedulerName = DefaultSchedulerName
	}
	workers := cfg.Parallelism
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	s := &Scheduler{
		client: client, recorder: recorder, cfg: cfg, workers: workers,
		queue: NewQueue(time.Now), cache: NewCache(), now: time.Now,
		rand:    rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0)),
		bindSem: make(chan struct{}, maxInFlightBinds),
		metrics: newMetrics(),
	}
	core, storage := inf.Core().V1(), inf.Storage().V1()
	vol := &plugins.VolumeBinding{Claims: core.PersistentVolumeClaims().Lister(),
		Volumes: core.PersistentVolumes().Lister(), Classes: storage.StorageClasses().Lister(),
		CSINodes: storage.CSINodes().Lister(), Drivers: storage.CSIDrivers().Lister(),
		Capacities: storage.CSIStorageCapacities().Lister()}
	apps := inf.Apps().V1()
	workloads := plugins.WorkloadSelectors{Services: core.Services().Lister(),
		RCs: core.ReplicationControllers().Lister(), ReplicaSets: apps.ReplicaSets().Lister(),
		StatefulSets: apps.StatefulSets().Lister()}
	s.prof = newProfile(&cfg, listers{namespaces: core.Namespaces().Lister(), volumes: vol, workloads: workloads.Selector})
	s.podLister = core.Pods().Lister()
	s.pdbLister = inf.Policy().V1().PodDisruptionBudgets().Lister()
	if err := s.addHandlers(inf); err != nil {
		return nil, err
	}
	return s, nil
}

// Run schedules pods until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	slog.Info("scheduler starting", "profile", s.cfg.Profile, "workers", s.workers)
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return
	}
	go s.queue.Run(ctx)
	go s.expireLoop(ctx)
	for ctx.Err() == nil {
		s.scheduleOne(ctx)
	}
	slog.Info("scheduler stopped")
}

func (s *Scheduler) expireLoop(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.cache.Expire(now)
			s.metrics.observeQueue(s.queue)
		}
	}
}

// scheduleOne takes one pod from the queue, decides where it goes, and starts the
// I/O that follows (binding, or events, status and evictions) without waiting.
func (s *Scheduler) scheduleOne(ctx context.Context) {
	qp, cycle := s.queue.Pop()
	if qp == nil {
		return
	}
	pod := qp.Pod
	if pod.DeletionTimestamp != nil || s.cache.IsAssumed(pod.UID) {
		s.queue.Done(pod.UID)
		return
	}
	start := s.now()
	d := s.decide(ctx, qp.PodInfo)
	s.metrics.observeAttempt(d, s.now().Sub(start))
	switch {
	case d.node != "":
		s.queue.Done(pod.UID)
		s.queue.ClearNomination(pod.UID)
		s.bindAsync(ctx, qp, d.node)
	case d.err != nil:
		slog.Error("scheduling failed", "pod", klogKey(pod), "err", d.err)
		s.recorder.Eventf(pod, v1.EventTypeWarning, "FailedScheduling", "%v", d.err)
		s.queue.AddBackoff(qp)
	default:
		s.onUnschedulable(ctx, qp, cycle, d)
	}
}

// onUnschedulable parks the pod, tells the user why, and carries out a preemption.
func (s *Scheduler) onUnschedulable(ctx context.Context, qp *QueuedPod, cycle int64, d decision) {
	pod, msg := qp.Pod, d.fitErr.Error()
	nominated := ""
	if p := d.preemption; p != nil {
		nominated = p.node
		s.queue.Nominate(qp.PodInfo, p.node)
	}
	s.queue.AddUnschedulable(qp, cycle, d.rejectors)
	slog.Debug("pod unschedulable", "pod", klogKey(pod), "reason", msg)
	s.recorder.Eventf(pod, v1.EventTypeWarning, "FailedScheduling", "%s", msg)
	go func() {
		if err := s.setUnschedulable(ctx, pod, msg, nominated); err != nil {
			slog.Warn("recording unschedulable condition", "pod", klogKey(pod), "err", err)
		}
		if d.preemption != nil {
			s.evict(ctx, pod, d.preemption)
		}
	}()
}

func klogKey(pod *v1.Pod) string { return pod.Namespace + "/" + pod.Name }
