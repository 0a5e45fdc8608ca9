// Package fakekubelet stands in for nodes in controller integration tests: it binds
// pending pods to nodes, as the scheduler would, reports them Running and Ready (or
// finished), as a kubelet would, and completes graceful deletions.
package fakekubelet

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Outcome is what becomes of a bound pod.
type Outcome struct {
	// Phase is Running (the default), Succeeded, Failed, or Pending to leave it alone.
	Phase corev1.PodPhase
	// ExitCode of the containers of a Failed pod.
	ExitCode int32
	// NotReady keeps a Running pod's Ready condition False.
	NotReady bool
	// Delay is how long the pod stays Pending after binding.
	Delay time.Duration
}

// Kubelet is a fake for every node in the cluster.
type Kubelet struct {
	Client kubernetes.Interface
	// Outcome decides each pod's fate; nil runs every pod, ready at once.
	Outcome func(*corev1.Pod) Outcome
	// NoBind leaves unbound pods alone, to test what happens before scheduling.
	NoBind bool

	queue  workqueue.TypedRateLimitingInterface[string]
	pods   cache.Indexer
	nodes  cache.Indexer
	nextIP atomic.Int32
}

// AddNode creates a Ready node called name.
func AddNode(ctx context.Context, c kubernetes.Interface, name string) error {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}}}
	n, err := c.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now(), Reason: "KubeletReady"}}
	_, err = c.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
	return err
}

// Run works until ctx ends.
func (k *Kubelet) Run(ctx context.Context) {
	f := informers.NewSharedInformerFactory(k.Client, 0)
	pi, ni := f.Core().V1().Pods().Informer(), f.Core().V1().Nodes().Informer()
	k.pods, k.nodes = pi.GetIndexer(), ni.GetIndexer()
	k.queue = workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())
	defer k.queue.ShutDown()
	enqueue := func(obj any) {
		if key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj); err == nil {
			k.queue.Add(key)
		}
	}
	pi.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: enqueue,
		UpdateFunc: func(_, o any) { enqueue(o) }})
	f.Start(ctx.Done())
	f.WaitForCacheSync(ctx.Done())
	go func() {
		<-ctx.Done()
		k.queue.ShutDown()
	}()
	for {
		key, quit := k.queue.Get()
		if quit {
			return
		}
		if err := k.sync(ctx, key); err != nil && ctx.Err() == nil {
			k.queue.AddRateLimited(key)
		} else {
			k.queue.Forget(key)
		}
		k.queue.Done(key)
	}
}

func (k *Kubelet) sync(ctx context.Context, key string) error {
	obj, ok, _ := k.pods.GetByKey(key)
	if !ok {
		return nil
	}
	pod := obj.(*corev1.Pod)
	switch {
	case pod.DeletionTimestamp != nil:
		// As the real kubelet, report how the pod ended before removing it.
		if pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed && pod.Spec.NodeName != "" {
			upd := pod.DeepCopy()
			upd.Status.Phase = corev1.PodFailed
			if _, err := k.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
		}
		zero := int64(0)
		err := k.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
			GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			return nil
		}
		return err
	case pod.Spec.NodeName == "":
		if k.NoBind {
			return nil
		}
		return k.bind(ctx, pod)
	case pod.Status.Phase == "" || pod.Status.Phase == corev1.PodPending:
		return k.start(ctx, pod)
	}
	return nil
}

func (k *Kubelet) bind(ctx context.Context, pod *corev1.Pod) error {
	node := nodeFromAffinity(pod)
	if node == "" {
		var names []string
		for _, n := range k.nodes.List() {
			names = append(names, n.(*corev1.Node).Name)
		}
		if len(names) == 0 {
			return fmt.Errorf("no nodes to bind %s to", pod.Name)
		}
		sort.Strings(names)
		node = names[int(k.nextIP.Load())%len(names)]
	}
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, UID: pod.UID},
		Target: corev1.ObjectReference{Kind: "Node", Name: node}}
	err := k.Client.CoreV1().Pods(pod.Namespace).Bind(ctx, b, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// nodeFromAffinity reads the node a DaemonSet pod is pinned to.
func nodeFromAffinity(pod *corev1.Pod) string {
	a := pod.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, t := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range t.MatchFields {
			if f.Key == "metadata.name" && len(f.Values) == 1 {
				return f.Values[0]
			}
		}
	}
	return ""
}

func (k *Kubelet) start(ctx context.Context, pod *corev1.Pod) error {
	out := Outcome{Phase: corev1.PodRunning}
	if k.Outcome != nil {
		out = k.Outcome(pod)
	}
	if out.Phase == corev1.PodPending || out.Phase == "" {
		return nil
	}
	if wait := time.Until(pod.CreationTimestamp.Add(out.Delay)); wait > 0 {
		k.queue.AddAfter(pod.Namespace+"/"+pod.Name, wait)
		return nil
	}
	pod = pod.DeepCopy()
	k.setStatus(pod, out)
	_, err := k.Client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // a newer version is on its way through the informer
	}
	return err
}

func (k *Kubelet) setStatus(pod *corev1.Pod, out Outcome) {
	now := metav1.Now()
	n := k.nextIP.Add(1)
	pod.Status.Phase = out.Phase
	pod.Status.PodIP = fmt.Sprintf("10.42.%d.%d", n/250, n%250+2)
	pod.Status.PodIPs = []corev1.PodIP{{IP: pod.Status.PodIP}}
	pod.Status.HostIP = "192.168.0.1"
	pod.Status.StartTime = &now
	ready := out.Phase == corev1.PodRunning && !out.NotReady
	state := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
	if out.Phase != corev1.PodRunning {
		state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{
			ExitCode: out.ExitCode, StartedAt: now, FinishedAt: now, Reason: reason(out.Phase)}}
	}
	pod.Status.ContainerStatuses = nil
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image, Ready: ready, State: state,
			Started: &ready, ContainerID: fmt.Sprintf("fake://%s-%s", pod.UID, c.Name)})
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	pod.Status.Conditions = []corev1.PodCondition{
		{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: now},
		{Type: corev1.ContainersReady, Status: status, LastTransitionTime: now},
		{Type: corev1.PodReady, Status: status, LastTransitionTime: now},
	}
}

func reason(p corev1.PodPhase) string {
	if p == corev1.PodSucceeded {
		return "Completed"
	}
	return "Error"
}
