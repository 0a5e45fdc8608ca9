// Package controller is the small base every controller shares: a rate-limited
// workqueue of object keys fed by informers, workers that call sync(key), and the
// clients, informers and event recorder a controller needs.
package controller

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/intern"
	"skiff/internal/resources"
)

// Context is what controllers are built from.
type Context struct {
	Client    kubernetes.Interface
	Informers informers.SharedInformerFactory
	// Recorder returns an event recorder that reports as component.
	Recorder func(component string) record.EventRecorder
}

// NewContext builds informers (resynced every resync) and an event broadcaster over client.
func NewContext(client kubernetes.Interface, resync time.Duration) *Context {
	b := record.NewBroadcaster()
	b.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	var mu sync.Mutex
	recorders := map[string]record.EventRecorder{}
	return &Context{
		Client:    client,
		Informers: informers.NewSharedInformerFactoryWithOptions(client, resync, informers.WithTransform(SlimPods)),
		Recorder: func(component string) record.EventRecorder {
			mu.Lock()
			defer mu.Unlock()
			if r, ok := recorders[component]; ok {
				return r
			}
			r := b.NewRecorder(resources.Scheme, corev1.EventSource{Component: component})
			recorders[component] = r
			return r
		},
	}
}

// StripManagedFields drops managedFields from objects before an informer caches them:
// no controller reads them, they are about a third of a cached pod, and the API
// server keeps an object's live managedFields when an update carries none.
func StripManagedFields(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil && m.GetManagedFields() != nil {
		m.SetManagedFields(nil)
	}
	return obj, nil
}

// SlimMetadata is StripManagedFields that also shares what objects' metadata
// have in common (intern.Meta): for informers of metadata only, such as the
// garbage collector's, which hold every object of the cluster.
func SlimMetadata(obj any) (any, error) {
	obj, _ = StripManagedFields(obj)
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
		m.APIVersion, m.Kind = intern.String(m.APIVersion), intern.String(m.Kind)
		intern.Meta(&m.ObjectMeta)
	}
	return obj, nil
}

// SlimPods is StripManagedFields that also drops from pods what neither the
// scheduler nor any controller reads: containers' commands, environment,
// mounts, probes and lifecycle hooks, and projected volumes (every pod's
// service account token volume). With 150,000 pods that is a fifth of the
// informer's memory. What is left is shared with the pods before it where
// equal (intern.Pod: containers, labels, tolerations, names of nodes and
// images...), which halves it again. A pod from such an informer must never be
// written back whole (its spec, which is immutable, is no longer whole): status
// updates send only the status, and other changes are patches.
func SlimPods(obj any) (any, error) {
	obj, _ = StripManagedFields(obj)
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	slimPod(pod)
	intern.Pod(pod)
	return pod, nil
}

// slimPod drops what SlimPods drops.
func slimPod(pod *corev1.Pod) {
	for i := range pod.Spec.InitContainers {
		slimContainer(&pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		slimContainer(&pod.Spec.Containers[i])
	}
	for i := range pod.Spec.EphemeralContainers {
		c := corev1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
		slimContainer(&c)
		pod.Spec.EphemeralContainers[i].EphemeralContainerCommon = corev1.EphemeralContainerCommon(c)
	}
	if pod.Spec.Volumes = slices.DeleteFunc(pod.Spec.Volumes, func(v corev1.Volume) bool { return v.Projected != nil }); len(pod.Spec.Volumes) == 0 {
		pod.Spec.Volumes = nil
	}
}

// slimContainer keeps what scheduling and the controllers read: name, image,
// ports, resources and restart policy (sidecars).
func slimContainer(c *corev1.Container) {
	*c = corev1.Container{Name: c.Name, Image: c.Image, Ports: c.Ports, Resources: c.Resources, ResizePolicy: c.ResizePolicy,
		RestartPolicy: c.RestartPolicy, RestartPolicyRules: c.RestartPolicyRules}
}

// Controller runs sync for every key put on its queue, retrying failures with backoff.
type Controller struct {
	Name    string
	Queue   workqueue.TypedRateLimitingInterface[string]
	Sync    func(ctx context.Context, key string) error
	Workers int
	// HasSynced are the informers that must be filled before the first sync.
	HasSynced []cache.InformerSynced
}

// New returns a controller named name whose queue retries with exponential backoff
// (5 ms doubling to 1000 s, as client-go's default).
func New(name string, sync func(ctx context.Context, key string) error, workers int) *Controller {
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: name})
	return &Controller{Name: name, Queue: q, Sync: sync, Workers: workers}
}

// Enqueue adds obj's namespace/name key; tombstones of deleted objects are unwrapped.
func (c *Controller) Enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	c.Queue.Add(key)
}

// EnqueueAfter adds obj's key after d.
func (c *Controller) EnqueueAfter(obj any, d time.Duration) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		return
	}
	c.Queue.AddAfter(key, d)
}

// Handler enqueues on every add, update and delete.
func (c *Controller) Handler() cache.ResourceEventHandler {
	return Each(c.Enqueue)
}

// Run waits for the informers, then works the queue until ctx ends.
func (c *Controller) Run(ctx context.Context) {
	defer c.Queue.ShutDown()
	if !cache.WaitForNamedCacheSync(c.Name, ctx.Done(), c.HasSynced...) {
		return
	}
	slog.Info("controller started", "controller", c.Name, "workers", c.Workers)
	var wg sync.WaitGroup
	for i := 0; i < max(c.Workers, 1); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c.next(ctx) {
			}
		}()
	}
	<-ctx.Done()
	c.Queue.ShutDown()
	wg.Wait()
}

func (c *Controller) next(ctx context.Context) bool {
	key, quit := c.Queue.Get()
	if quit {
		return false
	}
	defer c.Queue.Done(key)
	err := c.safeSync(ctx, key)
	if err == nil {
		c.Queue.Forget(key)
		return true
	}
	if c.Queue.NumRequeues(key) < 15 {
		slog.Debug("sync failed; retrying", "controller", c.Name, "key", key, "err", err)
	} else {
		slog.Warn("sync keeps failing", "controller", c.Name, "key", key, "err", err)
	}
	c.Queue.AddRateLimited(key)
	return true
}

// safeSync turns a panic in one sync into an error, so one bad object cannot stop the
// controller.
func (c *Controller) safeSync(ctx context.Context, key string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in %s sync of %s: %v", c.Name, key, r)
			slog.Error("controller panic", "controller", c.Name, "key", key, "panic", r)
		}
	}()
	return c.Sync(ctx, key)
}

// Shared returns an informer factory for several components of one process (the
// scheduler and the controller manager inside skiff server), so each cache is
// held once rather than once per component: with 150,000 pods a copy is over a
// gigabyte. Its informers run until stop closes, whichever component starts
// them and whenever that component stops (a lost Lease): Start's and
// Shutdown's arguments are ignored.
func Shared(client kubernetes.Interface, resync time.Duration, stop <-chan struct{}) informers.SharedInformerFactory {
	return sharedFactory{informers.NewSharedInformerFactoryWithOptions(client, resync, informers.WithTransform(SlimPods)), stop}
}

type sharedFactory struct {
	informers.SharedInformerFactory
	stop <-chan struct{}
}

func (f sharedFactory) Start(<-chan struct{}) { f.SharedInformerFactory.Start(f.stop) }

func (f sharedFactory) Shutdown() {}
