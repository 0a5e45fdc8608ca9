// Package simulate implements `skiff simulate`: it registers virtual nodes that keep
// their leases and pretend to run the pods bound to them (Running and Ready at
// once, no containers), like KWOK. It exists for scheduler and controller scale
// tests and for capacity planning, and can leave chosen nodes silent to simulate
// their failure.
package simulate

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/workqueue"

	"skiff/internal/localpath"
)

// readyCheckPeriod is how often node conditions are checked and repaired.
const readyCheckPeriod = 30 * time.Second

type simulator struct {
	client kubernetes.Interface
	opts   Options
	oursMu sync.RWMutex
	ours   map[string]int // node name -> index; pool nodes come and go
	// nextIndex is the index the next pool node gets.
	nextIndex int
	pods      corelisters.PodLister
	queue     workqueue.TypedRateLimitingInterface[string]
	ipMu      sync.Mutex
	nextIP    map[string]int
	// leases are the nodes' leases as last written, by node name.
	leases sync.Map
}

// Main is `skiff simulate <args>`: it parses the flags, reads the kubeconfig and
// runs until ctx ends.
func Main(ctx context.Context, args []string) error {
	opts, err := ParseFlags(args)
	if err != nil {
		return err
	}
	if opts.Kubeconfig == "" {
		return errors.New("--kubeconfig is required")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	if err != nil {
		return err
	}
	return Run(ctx, cfg, opts)
}

// Run registers the nodes, then heartbeats them and serves their pods until ctx
// ends. The nodes are left registered on exit, as a crashed kubelet leaves them.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 1000, 2000
	}
	if cfg.ContentType == "" {
		// As a kubelet does: protobuf for every request, not only those of the
		// generated clients that prefer it.
		cfg.ContentType = "application/vnd.kubernetes.protobuf"
		cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	s := &simulator{client: client, opts: opts, ours: map[string]int{}, nextIP: map[string]int{},
		queue: workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[string]())}
	for i := 0; i < opts.Nodes; i++ {
		s.ours[s.nodeName(i)] = i
	}
	s.nextIndex = opts.Nodes
	if opts.Bare && len(opts.Pools) > 0 {
		return errors.New("--pool needs simulated kubelets; it cannot be combined with --bare")
	}
	start := time.Now()
	if err := s.registerNodes(ctx); err != nil {
		return err
	}
	slog.Info("simulated nodes registered", "nodes", opts.Nodes, "prefix", opts.NamePrefix,
		"took", time.Since(start).Round(time.Millisecond), "failed", len(opts.FailNodes), "bare", opts.Bare)
	if opts.Bare {
		<-ctx.Done()
		return nil
	}
	return s.serve(ctx)
}

func (s *simulator) serve(ctx context.Context) error {
	defer s.queue.ShutDown()
	// Only bound pods concern the nodes, and of them only what slimPod keeps.
	podFactory := informers.NewSharedInformerFactoryWithOptions(s.client, 0, informers.WithTransform(slimPod),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "spec.nodeName!=" }))
	podInf := podFactory.Core().V1().Pods()
	s.pods = podInf.Lister()
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    s.enqueue,
		UpdateFunc: func(_, obj any) { s.enqueue(obj) },
	}); err != nil {
		return err
	}
	inf := informers.NewSharedInformerFactory(s.client, 0)
	nodeInf := inf.Core().V1().Nodes()
	nodes := nodeInf.Lister()
	_ = nodeInf.Informer()
	podFactory.Start(ctx.Done())
	defer podFactory.Shutdown()
	inf.Start(ctx.Done())
	defer inf.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), podInf.Informer().HasSynced, nodeInf.Informer().HasSynced) {
		return ctx.Err()
	}
	var wg sync.WaitGroup
	for range s.opts.Workers {
		wg.Add(1)
		go func() { defer wg.Done(); s.work(ctx) }()
	}
	wg.Add(4)
	go func() { defer wg.Done(); localpath.Start(ctx, s.client, s.volumeDirs()) }()
	go func() { defer wg.Done(); s.heartbeat(ctx) }()
	go func() { defer wg.Done(); s.poolLoop(ctx, nodes) }()
	go func() { defer wg.Done(); s.repairLoop(ctx, nodes) }()
	<-ctx.Done()
	s.queue.ShutDown()
	wg.Wait()
	return nil
}

// volumeDirs gives each simulated node a directory for its local-path volumes, so
// claims scheduled to simulated nodes are provisioned and bound as on real ones.
func (s *simulator) volumeDirs() localpath.Dirs {
	base := s.opts.VolumeDir
	if base == "" {
		base = filepath.Join(os.TempDir(), "skiff-simulate-volumes")
	}
	return func(node string) (string, bool) {
		_, ours := s.index(node)
		return filepath.Join(base, node), ours
	}
}

// index returns a node's index (its pod subnet and address) if the node is ours.
func (s *simulator) index(name string) (int, bool) {
	s.oursMu.RLock()
	defer s.oursMu.RUnlock()
	i, ok := s.ours[name]
	return i, ok
}

func (s *simulator) indexOf(name string) int {
	i, _ := s.index(name)
	return i
}

// names lists our nodes.
func (s *simulator) names() []string {
	s.oursMu.RLock()
	defer s.oursMu.RUnlock()
	out := make([]string, 0, len(s.ours))
	for n := range s.ours {
		out = append(out, n)
	}
	return out
}

func (s *simulator) enqueue(obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return
	}
	if _, mine := s.index(pod.Spec.NodeName); !mine {
		return
	}
	if pod.DeletionTimestamp == nil && running(pod) && !needsReady(pod) {
		return
	}
	s.queue.Add(pod.Namespace + "/" + pod.Name)
}

func (s *simulator) work(ctx context.Context) {
	for {
		key, shutdown := s.queue.Get()
		if shutdown {
			return
		}
		if err := s.syncPod(ctx, key); err != nil && ctx.Err() == nil {
			slog.Debug("simulated pod sync", "pod", key, "err", err)
			s.queue.AddRateLimited(key)
		} else {
			s.queue.Forget(key)
		}
		s.queue.Done(key)
	}
}

func (s *simulator) repairLoop(ctx context.Context, nodes corelisters.NodeLister) {
	t := time.NewTicker(readyCheckPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, name := range s.names() {
			n, err := nodes.Get(name)
			if err != nil {
				continue
			}
			if err := s.keepReady(ctx, n); err != nil && ctx.Err() == nil {
				slog.Warn("repairing node status", "node", name, "err", err)
			}
		}
	}
}
