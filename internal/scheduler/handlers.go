package scheduler

import (
	"log/slog"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/scheduler/framework"
	"skiff/internal/scheduler/plugins"
)

// addHandlers wires informer events into the cache (bound pods, nodes) and the
// queue (pending pods), and retries unschedulable pods when an event could help.
func (s *Scheduler) addHandlers(inf informers.SharedInformerFactory) error {
	core := inf.Core().V1()
	regs := []struct {
		informer cache.SharedIndexInformer
		handler  cache.ResourceEventHandler
	}{
		{core.Pods().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: s.onPodAdd, UpdateFunc: s.onPodUpdate, DeleteFunc: s.onPodDelete}},
		{core.Nodes().Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc: s.onNodeAdd, UpdateFunc: s.onNodeUpdate, DeleteFunc: s.onNodeDelete}},
		{core.PersistentVolumeClaims().Informer(), s.retryOn(plugins.VolumeBindingName)},
		{core.PersistentVolumes().Informer(), s.retryOn(plugins.VolumeBindingName)},
		{inf.Storage().V1().StorageClasses().Informer(), s.retryOn(plugins.VolumeBindingName)},
		{inf.Storage().V1().CSINodes().Informer(), s.retryOn(plugins.VolumeBindingName)},
		{inf.Storage().V1().CSIDrivers().Informer(), s.retryOn(plugins.VolumeBindingName)},
		{inf.Storage().V1().CSIStorageCapacities().Informer(), s.retryOn(plugins.VolumeBindingName)},
		{core.Namespaces().Informer(), s.retryOn(plugins.InterPodAffinityName)},
		{inf.Policy().V1().PodDisruptionBudgets().Informer(), nil},
		// The default topology spread reads workload selectors from these.
		{core.Services().Informer(), nil},
		{core.ReplicationControllers().Informer(), nil},
		{inf.Apps().V1().ReplicaSets().Informer(), nil},
		{inf.Apps().V1().StatefulSets().Informer(), nil},
	}
	for _, r := range regs {
		if r.handler != nil {
			// No resyncs: the informers may be shared with controllers that want them,
			// and replaying every pod would only churn the scheduler's cache.
			reg, err := r.informer.AddEventHandlerWithResyncPeriod(r.handler, 0)
			if err != nil {
				return err
			}
			s.handlers = append(s.handlers, registration{r.informer, reg})
		}
		s.synced = append(s.synced, r.informer.HasSynced)
	}
	return nil
}

type registration struct {
	informer cache.SharedIndexInformer
	handle   cache.ResourceEventHandlerRegistration
}

// Detach removes the scheduler's handlers from the informers: with informers
// shared in a process, a scheduler that stopped (a lost Lease) must stop
// receiving their events before its successor starts.
func (s *Scheduler) Detach() {
	for _, r := range s.handlers {
		if err := r.informer.RemoveEventHandler(r.handle); err != nil {
			slog.Warn("scheduler: removing an informer handler failed", "err", err)
		}
	}
	s.handlers = nil
}

// retryOn retries pods that the named plugins rejected whenever the object changes.
func (s *Scheduler) retryOn(names ...string) cache.ResourceEventHandler {
	move := func() { s.queue.MoveUnschedulable(rejectedBy(names...)) }
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { move() },
		UpdateFunc: func(any, any) { move() },
	}
}

func rejectedBy(names ...string) func(*QueuedPod) bool {
	return func(qp *QueuedPod) bool {
		for _, n := range names {
			if qp.Rejectors[n] {
				return true
			}
		}
		return false
	}
}

func asPod(obj any) *v1.Pod {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	pod, _ := obj.(*v1.Pod)
	return pod
}

func (s *Scheduler) onPodAdd(obj any) {
	pod := asPod(obj)
	switch {
	case pod == nil:
	case pod.Spec.NodeName != "":
		s.addAssigned(pod)
	case s.responsible(pod) && !s.cache.IsAssumed(pod.UID):
		s.queue.Add(pod)
	}
}

// addAssigned counts a bound pod; a new pod may satisfy pending pods' affinity or
// change topology spread counts, so those are retried.
func (s *Scheduler) addAssigned(pod *v1.Pod) {
	if terminal(pod) {
		s.cache.RemovePod(pod.UID)
		s.queue.MoveUnschedulable(nil)
		return
	}
	s.queue.Delete(pod)
	s.cache.AddPod(pod)
	s.queue.MoveUnschedulable(rejectedBy(plugins.InterPodAffinityName, plugins.PodTopologySpreadName))
}

func (s *Scheduler) onPodUpdate(oldObj, newObj any) {
	old, pod := asPod(oldObj), asPod(newObj)
	if pod == nil || old == nil {
		return
	}
	switch {
	case pod.Spec.NodeName != "":
		s.addAssigned(pod)
		if shrank(old, pod) {
			s.queue.MoveUnschedulable(rejectedBy(plugins.NodeResourcesFitName))
		}
	case !s.responsible(pod):
		s.queue.Delete(pod)
	case !s.cache.IsAssumed(pod.UID):
		s.queue.Update(old, pod)
	}
}

// shrank reports a bound pod that holds less of its node than before: an in-place
// resize down the kubelet has applied, which may make room for parked pods.
func shrank(old, pod *v1.Pod) bool {
	before, after := framework.PodRequests(old, false), framework.PodRequests(pod, false)
	return after.MilliCPU < before.MilliCPU || after.Memory < before.Memory
}

func (s *Scheduler) onPodDelete(obj any) {
	pod := asPod(obj)
	if pod == nil {
		return
	}
	s.queue.Delete(pod)
	if pod.Spec.NodeName != "" {
		s.cache.RemovePod(pod.UID)
		// Freed resources can help any parked pod.
		s.queue.MoveUnschedulable(nil)
		return
	}
	s.cache.Forget(pod.UID)
}

func (s *Scheduler) onNodeAdd(obj any) {
	if node, ok := obj.(*v1.Node); ok {
		s.cache.AddNode(node)
		s.queue.MoveUnschedulable(nil)
	}
}

// onNodeUpdate retries parked pods only when something a filter reads changed:
// heartbeats update the node every few seconds and must not cause a retry storm.
func (s *Scheduler) onNodeUpdate(oldObj, newObj any) {
	old, ok1 := oldObj.(*v1.Node)
	node, ok2 := newObj.(*v1.Node)
	if !ok1 || !ok2 {
		return
	}
	s.cache.AddNode(node)
	if nodeSchedulingChanged(old, node) {
		s.queue.MoveUnschedulable(nil)
	}
}

func nodeSchedulingChanged(old, node *v1.Node) bool {
	return old.Spec.Unschedulable != node.Spec.Unschedulable ||
		!labelsEqual(old.Labels, node.Labels) ||
		!equality.Semantic.DeepEqual(old.Spec.Taints, node.Spec.Taints) ||
		!equality.Semantic.DeepEqual(old.Status.Allocatable, node.Status.Allocatable)
}

func (s *Scheduler) onNodeDelete(obj any) {
	if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	if node, ok := obj.(*v1.Node); ok {
		s.cache.RemoveNode(node.Name)
	}
}
