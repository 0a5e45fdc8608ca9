// Package nodelifecycle watches node heartbeats (the Lease each kubelet renews in
// kube-node-lease, and the Ready condition it posts): a node silent for longer than the
// grace period is marked Ready=Unknown and tainted unreachable, its pods are marked not
// ready, and pods that do not tolerate the NoExecute taint are evicted once their
// tolerationSeconds run out. That is how workloads heal when a node fails.
package nodelifecycle

import (
	"context"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	coordlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

// Options tune the controller; zero values take Kubernetes' defaults.
type Options struct {
	// GracePeriod is how long a node may go without a heartbeat before it is
	// considered unreachable; 40s.
	GracePeriod time.Duration
	// MonitorPeriod is how often every node is checked; 5s.
	MonitorPeriod time.Duration
}

const (
	leaseNamespace = "kube-node-lease"
	podNodeIndex   = "nodelifecycle/spec.nodeName"
)

// Controller is the node lifecycle controller.
type Controller struct {
	c        *controller.Context
	opts     Options
	ctl      *controller.Controller
	nodes    corelisters.NodeLister
	leases   coordlisters.LeaseLister
	podIndex cache.Indexer
	recorder record.EventRecorder
	now      func() time.Time

	mu     sync.Mutex
	probes map[string]probe
}

// probe is the last heartbeat seen from a node and when this controller saw it change:
// comparing our own clock readings keeps clock skew between machines out of it.
type probe struct {
	renew, heartbeat time.Time
	at               time.Time
}

// New returns the node lifecycle controller.
func New(c *controller.Context, opts Options) *Controller {
	if opts.GracePeriod == 0 {
		opts.GracePeriod = 40 * time.Second
	}
	if opts.MonitorPeriod == 0 {
		opts.MonitorPeriod = 5 * time.Second
	}
	nc := &Controller{c: c, opts: opts, now: time.Now, probes: map[string]probe{}, recorder: c.Recorder("node-controller")}
	nc.ctl = controller.New("nodelifecycle", nc.sync, 2)
	nodeInf := c.Informers.Core().V1().Nodes()
	leaseInf := c.Informers.Coordination().V1().Leases()
	podInf := c.Informers.Core().V1().Pods()
	nc.nodes, nc.leases = nodeInf.Lister(), leaseInf.Lister()
	_ = podInf.Informer().AddIndexers(cache.Indexers{podNodeIndex: func(obj any) ([]string, error) {
		if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
			return []string{p.Spec.NodeName}, nil
		}
		return nil, nil
	}})
	nc.podIndex = podInf.Informer().GetIndexer()
	nc.ctl.Watch(nodeInf.Informer(), nc.ctl.Handler())
	nc.ctl.Watch(leaseInf.Informer(), nil)
	// A pod landing on a tainted node must be judged too.
	nc.ctl.Watch(podInf.Informer(), cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p, ok := obj.(*corev1.Pod); ok && p.Spec.NodeName != "" {
				nc.ctl.Queue.Add(p.Spec.NodeName)
			}
		},
		UpdateFunc: func(o, n any) {
			op, _ := o.(*corev1.Pod)
			np, _ := n.(*corev1.Pod)
			if op != nil && np != nil && np.Spec.NodeName != "" && op.Spec.NodeName != np.Spec.NodeName {
				nc.ctl.Queue.Add(np.Spec.NodeName)
			}
		},
	})
	return nc
}

// Run checks every node each MonitorPeriod, besides on every node change.
func (nc *Controller) Run(ctx context.Context) {
	go func() {
		t := time.NewTicker(nc.opts.MonitorPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				nodes, _ := nc.nodes.List(labels.Everything())
				for _, n := range nodes {
					nc.ctl.Queue.Add(n.Name)
				}
			}
		}
	}()
	nc.ctl.Run(ctx)
}

func (nc *Controller) sync(ctx context.Context, name string) error {
	node, err := nc.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		nc.mu.Lock()
		delete(nc.probes, name)
		nc.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	now := nc.now()
	node, err = nc.updateHealth(ctx, node, now)
	if err != nil {
		return err
	}
	if node, err = nc.updateTaints(ctx, node, now); err != nil {
		return err
	}
	if c := condition(node, corev1.NodeReady); c != nil && c.Status != corev1.ConditionTrue {
		if err := nc.markPodsNotReady(ctx, node, now); err != nil {
			return err
		}
	}
	return nc.evictPods(ctx, node, now)
}

// lastHeartbeat updates and returns when this controller last saw the node's lease
// renewal or Ready heartbeat move. The first sighting takes the heartbeat's own time
// (never later than now, and the creation time for a node never heard from), so a node
// already silent for long is not given a fresh grace period by a controller restart.
func (nc *Controller) lastHeartbeat(node *corev1.Node, now time.Time) time.Time {
	var p probe
	if l, err := nc.leases.Leases(leaseNamespace).Get(node.Name); err == nil && l.Spec.RenewTime != nil {
		p.renew = l.Spec.RenewTime.Time
	}
	if c := condition(node, corev1.NodeReady); c != nil {
		p.heartbeat = c.LastHeartbeatTime.Time
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	old, seen := nc.probes[node.Name]
	switch {
	case !seen:
		p.at = latest(p.renew, p.heartbeat)
		if p.at.IsZero() {
			p.at = node.CreationTimestamp.Time // never heard from: the grace runs from creation
		}
		if p.at.After(now) {
			p.at = now
		}
	case p.renew.After(old.renew) || p.heartbeat.After(old.heartbeat):
		p.at = now
	default:
		p = old
	}
	nc.probes[node.Name] = p
	return p.at
}

func latest(ts ...time.Time) time.Time {
	var out time.Time
	for _, t := range ts {
		if t.After(out) {
			out = t
		}
	}
	return out
}
