// Package kubelet is the node agent's core: it registers the Node and keeps its
// status and Lease fresh, sets up the pod network, and runs one worker per pod bound
// to the node, driving the container runtime over CRI until the runtime matches the
// pod spec. Everything it needs to resume after a restart lives in the API server and
// in the runtime's labels.
//
// As in Kubernetes, three parts carry a pod: its pod worker (worker.go, the state
// machine: one goroutine per pod, woken by pod events, probe results and the PLEG),
// the runtime manager (runtimemanager.go: sandboxes, containers and images through
// the CRI RuntimeService and ImageManagerService interfaces, so the lifecycle is
// tested against k8s.io/cri-api's fakes) and the status manager (statusmanager.go:
// the status writes and what was last written).
package kubelet

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/cri"
	"skiff/internal/kubelet/imageview"
	"skiff/internal/kubelet/server"
	"skiff/internal/kubelet/stats"
	"skiff/internal/kubelet/volume"
)

// Config is what the agent hands the kubelet.
type Config struct {
	NodeName string
	NodeIPs  []string // InternalIPs; the first is the node's address
	Client   kubernetes.Interface
	// EventClient records events, under a rate limit of its own; nil: Client.
	EventClient kubernetes.Interface
	Runtime     *cri.Client
	// RuntimeVersion is shown in nodeInfo, e.g. "containerd://1.6.20".
	RuntimeVersion string
	Version        string // kubeletVersion in nodeInfo
	// RootDir holds pod log directories and the CNI IPAM records.
	RootDir string
	// CSI publishes pods' CSI volumes (internal/csi); nil for none.
	CSI volume.CSI
	// CgroupPrefix is the node's cgroup under which pod cgroups go, e.g. "/skiff-n1".
	CgroupPrefix string
	ClusterCIDR  string
	CNIConfDir   string
	// ManageNetwork sets up sysctls, masquerade and routes (false with an external
	// runtime whose network someone else manages).
	ManageNetwork bool
	Port          int // HTTPS port for logs and streaming; 0 picks one
	ServingCert   tls.Certificate
	ClientCAs     *x509.CertPool // who may call the HTTPS endpoint (the cluster CA)
	Labels        map[string]string
	Taints        []corev1.Taint
	ControlPlane  bool
	// DNS returns the pod's DNS config; nil leaves the runtime default (the host's
	// resolv.conf) until the cluster DNS exists.
	DNS func(pod *corev1.Pod) *runtimeapi.DNSConfig
	// ClusterDomain names pods in their managed /etc/hosts
	// (hostname.subdomain.namespace.svc.DOMAIN).
	ClusterDomain string
	// EvictionHard are the hard eviction thresholds (see ParseEvictionHard).
	EvictionHard []EvictionThreshold
	// EvictionPressureTransition keeps a pressure condition on this long after its
	// threshold was last met (default 5m, as Kubernetes).
	EvictionPressureTransition time.Duration
}

// Kubelet runs a node.
type Kubelet struct {
	cfg       Config
	client    kubernetes.Interface
	rt        *cri.Client
	runtime   *runtimeManager // what pod workers drive the runtime through
	statuses  *statusManager
	recorder  record.EventRecorder
	podLister corelisters.PodLister
	nodes     corelisters.NodeLister
	services  corelisters.ServiceLister
	cgroups   *cgroupManager
	restarts  *backoff // container restarts, key uid/name
	pulls     *backoff // image pulls, key uid/image
	machine   machineInfo
	port      int

	networkReady atomic.Bool
	runtimeDown  atomic.Pointer[string] // why the runtime does not answer; nil while it does
	runtimeNudge chan struct{}
	relistNudge  chan struct{} // a runtime event asks for a relist now
	mu           sync.Mutex
	workers      map[string]*podWorker // by pod UID
	wg           sync.WaitGroup
	srv          *server.Server
	probes       *prober
	volumes      *volume.Manager
	imageViews   *imageview.Views
	stats        *stats.Collector
	eviction     *evictionManager
	metrics      *kubeletMetrics
	resizes      *resizeTracker
}

// New checks cfg and prepares a kubelet; Run starts it.
func New(cfg Config) (*Kubelet, error) {
	if cfg.NodeName == "" || cfg.Client == nil || cfg.Runtime == nil || len(cfg.NodeIPs) == 0 {
		return nil, errors.New("kubelet needs a node name, node IP, API client and runtime")
	}
	if cfg.CgroupPrefix == "" {
		cfg.CgroupPrefix = "/skiff-" + cfg.NodeName
	}
	k := &Kubelet{
		cfg: cfg, client: cfg.Client, rt: cfg.Runtime,
		cgroups:      newCgroupManager(cfg.CgroupPrefix),
		restarts:     newBackoff(10*time.Second, 5*time.Minute, 10*time.Minute),
		pulls:        newBackoff(10*time.Second, 5*time.Minute, 10*time.Minute),
		machine:      readMachineInfo(cfg.RootDir),
		workers:      map[string]*podWorker{},
		runtimeNudge: make(chan struct{}, 1),
		relistNudge:  make(chan struct{}, 1),
		resizes:      newResizeTracker(),
	}
	rs, is := cfg.Runtime.Services()
	k.runtime = newRuntimeManager(rs, is, cfg.NodeName)
	k.statuses = newStatusManager(cfg.Client)
	k.probes = newProber(k)
	k.metrics = newKubeletMetrics()
	cfg.Runtime.Observe(k.metrics.runtimeCall)
	if cfg.EvictionPressureTransition == 0 {
		cfg.EvictionPressureTransition = 5 * time.Minute
	}
	k.eviction = newEvictionManager(k, cfg.EvictionHard, cfg.EvictionPressureTransition)
	return k, nil
}

// Run serves until ctx ends. Pods keep running when it returns: only the agent stops.
func (k *Kubelet) Run(ctx context.Context) error {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	events := k.cfg.EventClient
	if events == nil {
		events = k.client
	}
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: events.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	k.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kubelet", Host: k.cfg.NodeName})
	k.imageViews = imageview.New(ctx, k.rt.Conn(), k.runtime.runtime, k.runtime.images, k.cfg.NodeName)
	k.volumes = k.newVolumeManager(ctx)

	if err := k.cgroups.ensurePrefix(); err != nil {
		return err
	}
	srv, err := server.New(server.Config{Port: k.cfg.Port, Cert: k.cfg.ServingCert, ClientCAs: k.cfg.ClientCAs, Logs: k})
	if err != nil {
		return err
	}
	k.srv, k.port = srv, srv.Port()
	registerStreaming(k, srv)
	go srv.Serve(ctx)

	if err := k.registerNode(ctx); err != nil {
		return err
	}
	podInf, nodeInf, svcInf := k.informers(ctx)
	k.metrics.watchPodStarts(podInf)
	if !cache.WaitForCacheSync(ctx.Done(), podInf.HasSynced, nodeInf.HasSynced, svcInf.HasSynced) {
		return ctx.Err()
	}
	// Stats start once the pod cache is filled: the eviction manager reads it.
	k.startStats(ctx, srv)
	go k.sweepImageViews(ctx)
	slog.Info("kubelet started", "node", k.cfg.NodeName, "port", k.port)
	go k.heartbeat(ctx)
	go k.watchRuntime(ctx)
	go k.relistLoop(ctx)
	go k.watchExits(ctx)
	<-ctx.Done()
	k.wg.Wait()
	return nil
}

// Port is the HTTPS port the kubelet serves on (valid once Run has started serving).
func (k *Kubelet) Port() int { return k.port }

func (k *Kubelet) informers(ctx context.Context) (pods, nodes, services cache.SharedIndexInformer) {
	podFactory := informers.NewSharedInformerFactoryWithOptions(k.client, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.cfg.NodeName).String()
		}))
	podInf := podFactory.Core().V1().Pods().Informer()
	k.podLister = podFactory.Core().V1().Pods().Lister()
	_, _ = podInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { k.dispatch(ctx, o) },
		UpdateFunc: func(_, o any) { k.dispatch(ctx, o) },
		DeleteFunc: func(o any) { k.dispatch(ctx, o) },
	})
	nodeFactory := informers.NewSharedInformerFactory(k.client, 0)
	nodeInf := nodeFactory.Core().V1().Nodes().Informer()
	k.nodes = nodeFactory.Core().V1().Nodes().Lister()
	_, _ = nodeInf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { k.nodeChanged(ctx, o) },
		UpdateFunc: func(_, o any) { k.nodeChanged(ctx, o) },
		DeleteFunc: func(o any) { k.nodeChanged(ctx, o) },
	})
	// Services feed the containers' service environment variables.
	svcInf := nodeFactory.Core().V1().Services().Informer()
	k.services = nodeFactory.Core().V1().Services().Lister()
	podFactory.Start(ctx.Done())
	nodeFactory.Start(ctx.Done())
	return podInf, nodeInf, svcInf
}

// podLogDir is where the runtime writes the pod's container logs.
func (k *Kubelet) podLogDir(ns, name, uid string) string {
	return filepath.Join(k.cfg.RootDir, "pods", fmt.Sprintf("%s_%s_%s", ns, name, uid))
}

// nodeSelector selects every runtime object this kubelet created.
func (k *Kubelet) nodeSelector() map[string]string {
	return map[string]string{cri.LabelNode: k.cfg.NodeName}
}
