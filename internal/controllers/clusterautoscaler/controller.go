// Package clusterautoscaler grows and shrinks the node pools `skiff simulate`
// publishes (see package nodepool): it adds nodes when pods are unschedulable and a
// pool's template node would take them, and removes nodes that have been under half
// requested for a while once their pods can move, draining them through the
// eviction API so PodDisruptionBudgets hold.
package clusterautoscaler

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
	"skiff/internal/nodepool"
	"skiff/internal/scheduler"
)

// Settings keys in the pools ConfigMap, and their defaults (the real autoscaler's).
const (
	scanIntervalKey = "scan-interval"
	unneededTimeKey = "scale-down-unneeded-time"
	newPodDelayKey  = "new-pod-scale-up-delay"
	defaultScan     = 10 * time.Second
	defaultUnneeded = 10 * time.Minute
	statusConfigMap = "cluster-autoscaler-status"
	componentName   = "cluster-autoscaler"
	idleCheckPeriod = 10 * time.Second
)

// Controller is the cluster autoscaler's loop.
type Controller struct {
	client   controllerClient
	nodes    corelisters.NodeLister
	pods     corelisters.PodLister
	pdbs     policylisters.PodDisruptionBudgetLister
	synced   []cache.InformerSynced
	recorder record.EventRecorder
	fit      *scheduler.FitChecker
	now      func() time.Time

	// unneededSince is when each node was first seen removable.
	unneededSince map[string]time.Time
	// told is the last NotTriggerScaleUp reason given to each pending pod, so a pod
	// hears it once rather than every scan.
	told map[types.UID]string
}

// New builds the controller; it stays idle until the pools ConfigMap exists.
func New(c *controller.Context) *Controller {
	nodes, pods := c.Informers.Core().V1().Nodes(), c.Informers.Core().V1().Pods()
	pdbs := c.Informers.Policy().V1().PodDisruptionBudgets()
	return &Controller{
		client: controllerClient{c.Client}, nodes: nodes.Lister(), pods: pods.Lister(), pdbs: pdbs.Lister(),
		synced:   []cache.InformerSynced{nodes.Informer().HasSynced, pods.Informer().HasSynced, pdbs.Informer().HasSynced},
		recorder: c.Recorder(componentName), fit: scheduler.NewFitChecker(), now: time.Now,
		unneededSince: map[string]time.Time{}, told: map[types.UID]string{},
	}
}

// Run scans every scan-interval while the pools exist.
func (c *Controller) Run(ctx context.Context) {
	if !cache.WaitForNamedCacheSync(componentName, ctx.Done(), c.synced...) {
		return
	}
	for {
		wait := idleCheckPeriod
		cm, err := c.client.poolsConfigMap(ctx)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			slog.Warn("cluster autoscaler: reading node pools", "err", err)
		default:
			wait = duration(cm, scanIntervalKey, defaultScan)
			if err := c.scan(ctx, cm); err != nil && ctx.Err() == nil {
				slog.Warn("cluster autoscaler scan", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

func duration(cm *v1.ConfigMap, key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(cm.Data[key]); err == nil && d > 0 {
		return d
	}
	return def
}

// scan is one loop of the autoscaler: scale up if pods wait, else consider scale-down,
// then publish the status.
func (c *Controller) scan(ctx context.Context, cm *v1.ConfigMap) error {
	pools, desired, err := nodepool.Read(cm)
	if err != nil {
		return err
	}
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return err
	}
	pods, err := c.pods.List(labels.Everything())
	if err != nil {
		return err
	}
	st := status{time: c.now(), pools: pools, desired: desired, nodes: nodes}
	pending := unschedulable(pods)
	st.pending = len(pending)
	if youngest := newest(pending); youngest != nil && c.now().Sub(youngest.CreationTimestamp.Time) < duration(cm, newPodDelayKey, 0) {
		st.scaleUp = "waiting for new pods to settle (new-pod-scale-up-delay)"
	} else if len(pending) > 0 {
		if err := c.scaleUp(ctx, pools, desired, nodes, pods, pending, &st); err != nil {
			return err
		}
	}
	if st.scaleUp == "" && !upcoming(pools, desired, nodes) {
		if err := c.scaleDown(ctx, cm, pools, desired, nodes, pods, &st); err != nil {
			return err
		}
	}
	return c.client.writeStatus(ctx, st.String())
}

// unschedulable lists the pods the scheduler gave up on, oldest first.
func unschedulable(pods []*v1.Pod) []*v1.Pod {
	var out []*v1.Pod
	for _, p := range pods {
		if p.Spec.NodeName != "" || p.DeletionTimestamp != nil {
			continue
		}
		for _, cond := range p.Status.Conditions {
			if cond.Type == v1.PodScheduled && cond.Status == v1.ConditionFalse && cond.Reason == v1.PodReasonUnschedulable {
				out = append(out, p)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp) })
	return out
}

func newest(pods []*v1.Pod) *v1.Pod {
	if len(pods) == 0 {
		return nil
	}
	return pods[len(pods)-1]
}

// upcoming reports whether a pool has fewer nodes than desired: scale-down waits
// until a resize has landed.
func upcoming(pools []nodepool.Pool, desired map[string]int, nodes []*v1.Node) bool {
	have := map[string]int{}
	for _, n := range nodes {
		have[n.Labels[nodepool.Label]]++
	}
	for _, p := range pools {
		if have[p.Name] < desired[p.Name] {
			return true
		}
	}
	return false
}

func (c *Controller) scaleUp(ctx context.Context, pools []nodepool.Pool, desired map[string]int,
	nodes []*v1.Node, pods, pending []*v1.Pod, st *status) error {
	plan := PlanScaleUp(ctx, c.fit, Cluster{Nodes: NodeInfos(nodes, pods), Pools: pools, Desired: desired}, pending)
	if up := plan.ScaleUp; up != nil {
		if err := c.client.setDesired(ctx, up.Pool, up.To); err != nil {
			return err
		}
		desired[up.Pool] = up.To
		msg := fmt.Sprintf("pod triggered scale-up: [{%s %d->%d (max: %d)}]", up.Pool, up.From, up.To, poolMax(pools, up.Pool))
		slog.Info("cluster autoscaler: scale-up", "pool", up.Pool, "from", up.From, "to", up.To, "pods", len(up.Pods), "waste", up.Waste)
		st.scaleUp = fmt.Sprintf("InProgress: %s %d->%d for %d pods", up.Pool, up.From, up.To, len(up.Pods))
		for _, p := range up.Pods {
			c.recorder.Event(p, v1.EventTypeNormal, "TriggeredScaleUp", msg)
			delete(c.told, p.UID)
		}
	}
	seen := map[types.UID]bool{}
	for _, p := range pending {
		seen[p.UID] = true
		if why, ok := plan.NoFit[p.UID]; ok && c.told[p.UID] != why {
			c.told[p.UID] = why
			c.recorder.Event(p, v1.EventTypeNormal, "NotTriggerScaleUp", why)
		}
	}
	for uid := range c.told {
		if !seen[uid] {
			delete(c.told, uid)
		}
	}
	return nil
}

func poolMax(pools []nodepool.Pool, name string) int {
	for _, p := range pools {
		if p.Name == name {
			return p.Max
		}
	}
	return 0
}

// scaleDown tracks how long each candidate has been unneeded and removes those past
// the unneeded time: every empty one at once, and at most one with pods per scan,
// as the real autoscaler does.
func (c *Controller) scaleDown(ctx context.Context, cm *v1.ConfigMap, pools []nodepool.Pool, desired map[string]int,
	nodes []*v1.Node, pods []*v1.Pod, st *status) error {
	pdbs, err := c.pdbs.List(labels.Everything())
	if err != nil {
		return err
	}
	cands, blocked := PlanScaleDown(ctx, c.fit, Cluster{Nodes: NodeInfos(nodes, pods), Pools: pools, Desired: desired, PDBs: pdbs})
	st.blocked = blocked
	unneeded := duration(cm, unneededTimeKey, defaultUnneeded)
	now := c.now()
	keep := map[string]bool{}
	busyDone := false
	for _, cand := range cands {
		keep[cand.Node] = true
		since, ok := c.unneededSince[cand.Node]
		if !ok {
			c.unneededSince[cand.Node] = now
			since = now
		}
		st.candidates = append(st.candidates, cand.Node)
		if now.Sub(since) < unneeded || (len(cand.Pods) > 0 && busyDone) {
			continue
		}
		if err := c.remove(ctx, cand, desired); err != nil {
			// A node held (by a PodDisruptionBudget, say) must not keep the next
			// candidate from its turn.
			st.blocked[cand.Node] = err.Error()
			continue
		}
		busyDone = busyDone || len(cand.Pods) > 0
		delete(c.unneededSince, cand.Node)
		delete(keep, cand.Node)
	}
	for n := range c.unneededSince {
		if !keep[n] {
			delete(c.unneededSince, n)
		}
	}
	return nil
}

// remove taints the node so nothing new lands there, evicts its pods (a refusal,
// such as a PodDisruptionBudget's, keeps the node and lifts the taint), then lowers
// the pool's desired size; the provider deletes the tainted node.
func (c *Controller) remove(ctx context.Context, cand Candidate, desired map[string]int) error {
	node, err := c.nodes.Get(cand.Node)
	if err != nil {
		return err
	}
	if err := c.client.taint(ctx, cand.Node, true); err != nil {
		return err
	}
	for _, p := range cand.Pods {
		if err := c.client.evict(ctx, p); err != nil {
			msg := fmt.Sprintf("eviction of %s/%s refused: %v", p.Namespace, p.Name, err)
			c.recorder.Event(node, v1.EventTypeWarning, "ScaleDownFailed", msg)
			if uerr := c.client.taint(ctx, cand.Node, false); uerr != nil {
				slog.Warn("cluster autoscaler: lifting taint", "node", cand.Node, "err", uerr)
			}
			return fmt.Errorf("%s", msg)
		}
	}
	to := desired[cand.Pool] - 1
	if err := c.client.setDesired(ctx, cand.Pool, to); err != nil {
		return err
	}
	desired[cand.Pool] = to
	c.recorder.Event(node, v1.EventTypeNormal, "ScaleDown",
		"node removed by cluster autoscaler: pool "+cand.Pool+" "+strconv.Itoa(to+1)+"->"+strconv.Itoa(to)+
			", "+strconv.Itoa(len(cand.Pods))+" pods evicted")
	slog.Info("cluster autoscaler: scale-down", "node", cand.Node, "pool", cand.Pool, "to", to)
	return nil
}
