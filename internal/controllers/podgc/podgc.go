// Package podgc is the pod garbage collector: it deletes finished pods beyond a
// threshold, pods bound to nodes that no longer exist, and terminating pods that no
// kubelet will ever finish (unscheduled, or on a node taken out of service).
package podgc

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"skiff/internal/controllers/controller"
)

// Options tune the collector; zero values take Kubernetes' defaults.
type Options struct {
	// TerminatedPodThreshold is how many Succeeded/Failed pods may exist before the
	// oldest are deleted; 12500 if zero, no limit if negative.
	TerminatedPodThreshold int
	// Period between passes; 20s if zero.
	Period time.Duration
	// Quarantine is how long a node must be missing before its pods are deleted, so a
	// node that is only late in the informer cache is not mistaken for a gone one; 40s.
	Quarantine time.Duration
}

// OutOfServiceTaint is what an administrator puts on a node that is down for good, to
// let its terminating pods go without waiting for the kubelet.
const OutOfServiceTaint = "node.kubernetes.io/out-of-service"

// GC is the pod garbage collector.
type GC struct {
	c      *controller.Context
	opts   Options
	pods   corelisters.PodLister
	nodes  corelisters.NodeLister
	synced []cache.InformerSynced
	now    func() time.Time

	mu      sync.Mutex
	missing map[string]time.Time // node name -> when first seen missing
}

// New returns the pod garbage collector.
func New(c *controller.Context, opts Options) *GC {
	if opts.TerminatedPodThreshold == 0 {
		opts.TerminatedPodThreshold = 12500
	}
	if opts.Period == 0 {
		opts.Period = 20 * time.Second
	}
	if opts.Quarantine == 0 {
		opts.Quarantine = 40 * time.Second
	}
	podInf := c.Informers.Core().V1().Pods()
	nodeInf := c.Informers.Core().V1().Nodes()
	return &GC{
		c: c, opts: opts, pods: podInf.Lister(), nodes: nodeInf.Lister(),
		synced: []cache.InformerSynced{podInf.Informer().HasSynced, nodeInf.Informer().HasSynced},
		now:    time.Now, missing: map[string]time.Time{},
	}
}

// Run collects every Period until ctx ends.
func (g *GC) Run(ctx context.Context) {
	if !cache.WaitForNamedCacheSync("podgc", ctx.Done(), g.synced...) {
		return
	}
	slog.Info("controller started", "controller", "podgc")
	t := time.NewTicker(g.opts.Period)
	defer t.Stop()
	for {
		g.Collect(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Collect makes one pass.
func (g *GC) Collect(ctx context.Context) {
	pods, err := g.pods.List(labels.Everything())
	if err != nil {
		return
	}
	g.collectTerminated(ctx, pods)
	g.collectOrphaned(ctx, pods)
	g.collectStuckTerminating(ctx, pods)
}

func terminated(p *corev1.Pod) bool {
	return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed
}

// collectTerminated deletes the oldest finished pods beyond the threshold.
func (g *GC) collectTerminated(ctx context.Context, pods []*corev1.Pod) {
	if g.opts.TerminatedPodThreshold < 0 {
		return
	}
	var done []*corev1.Pod
	for _, p := range pods {
		if terminated(p) && p.DeletionTimestamp == nil {
			done = append(done, p)
		}
	}
	extra := len(done) - g.opts.TerminatedPodThreshold
	if extra <= 0 {
		return
	}
	slices.SortFunc(done, func(a, b *corev1.Pod) int {
		return a.CreationTimestamp.Compare(b.CreationTimestamp.Time)
	})
	slog.Info("deleting terminated pods over the threshold", "count", extra, "threshold", g.opts.TerminatedPodThreshold)
	for _, p := range done[:extra] {
		g.delete(ctx, p, false, "")
	}
}

// collectOrphaned force-deletes pods bound to nodes that have been gone for the
// quarantine period, checked against the API server and not only the cache.
func (g *GC) collectOrphaned(ctx context.Context, pods []*corev1.Pod) {
	byNode := map[string][]*corev1.Pod{}
	for _, p := range pods {
		if p.Spec.NodeName != "" {
			byNode[p.Spec.NodeName] = append(byNode[p.Spec.NodeName], p)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for name := range g.missing {
		if _, ok := byNode[name]; !ok {
			delete(g.missing, name)
		}
	}
	for name, ps := range byNode {
		if _, err := g.nodes.Get(name); err == nil {
			delete(g.missing, name)
			continue
		}
		since, ok := g.missing[name]
		if !ok {
			g.missing[name] = g.now()
			continue
		}
		if g.now().Sub(since) < g.opts.Quarantine {
			continue
		}
		_, err := g.c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			continue
		}
		slog.Info("deleting pods of a node that no longer exists", "node", name, "pods", len(ps))
		for _, p := range ps {
			g.delete(ctx, p, true, "PodGC: node no longer exists")
		}
		delete(g.missing, name)
	}
}

// collectStuckTerminating force-deletes terminating pods that no kubelet will finish:
// never scheduled, or on a not-ready node marked out of service.
func (g *GC) collectStuckTerminating(ctx context.Context, pods []*corev1.Pod) {
	for _, p := range pods {
		if p.DeletionTimestamp == nil {
			continue
		}
		if p.Spec.NodeName == "" {
			// No kubelet will report how it ended: it failed (a Job with a pod
			// failure policy counts a deleted pod only once it has a phase).
			markFailed(ctx, g.c, p)
			g.delete(ctx, p, true, "")
			continue
		}
		n, err := g.nodes.Get(p.Spec.NodeName)
		if err == nil && outOfService(n) {
			g.delete(ctx, p, true, "PodGC: node is out of service")
		}
	}
}

func outOfService(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
			return false
		}
	}
	for _, t := range n.Spec.Taints {
		if t.Key == OutOfServiceTaint && t.Effect == corev1.TaintEffectNoExecute {
			return true
		}
	}
	return false
}

// delete removes p; force skips the grace period, and a non-empty why first records
// on the pod that it was disrupted, so its owner and user can tell why it went.
func (g *GC) delete(ctx context.Context, p *corev1.Pod, force bool, why string) {
	if why != "" {
		markDisrupted(ctx, g.c, p, why, g.now())
	}
	opts := metav1.DeleteOptions{Preconditions: metav1.NewUIDPreconditions(string(p.UID))}
	if force {
		zero := int64(0)
		opts.GracePeriodSeconds = &zero
	}
	err := g.c.Client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, opts)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		slog.Warn("pod GC could not delete pod", "pod", p.Namespace+"/"+p.Name, "err", err)
	}
}

// markFailed gives a pod that never finished the Failed phase.
func markFailed(ctx context.Context, c *controller.Context, p *corev1.Pod) {
	if terminated(p) {
		return
	}
	upd := p.DeepCopy()
	upd.Status.Phase = corev1.PodFailed
	if _, err := c.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		slog.Debug("pod GC could not mark pod failed", "pod", p.Namespace+"/"+p.Name, "err", err)
	}
}

// markDisrupted sets the DisruptionTarget condition and, for a pod that was still
// running, the Failed phase.
func markDisrupted(ctx context.Context, c *controller.Context, p *corev1.Pod, why string, now time.Time) {
	upd := p.DeepCopy()
	if !terminated(upd) {
		upd.Status.Phase = corev1.PodFailed
	}
	cond := corev1.PodCondition{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue,
		Reason: "DeletionByPodGC", Message: why, LastTransitionTime: metav1.NewTime(now)}
	i := slices.IndexFunc(upd.Status.Conditions, func(c corev1.PodCondition) bool { return c.Type == cond.Type })
	if i >= 0 {
		upd.Status.Conditions[i] = cond
	} else {
		upd.Status.Conditions = append(upd.Status.Conditions, cond)
	}
	if _, err := c.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		slog.Debug("pod GC could not mark pod disrupted", "pod", p.Namespace+"/"+p.Name, "err", err)
	}
}
