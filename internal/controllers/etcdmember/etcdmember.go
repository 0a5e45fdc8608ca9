// Package etcdmember removes a server's etcd member when its Node is deleted:
// `kubectl delete node` of a server node retires the server from the control
// plane, as `skiff server remove` does. A server's own node (labelled
// node-role.kubernetes.io/control-plane, named like its etcd member) carries a
// finalizer while the cluster has several members, so the deletion waits until
// the member is gone.
package etcdmember

import (
	"context"
	"log/slog"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

// Finalizer holds a server node's deletion until its etcd member is removed.
const Finalizer = "skiff.io/etcd-member"

// ControlPlaneLabel marks a server's own node.
const ControlPlaneLabel = "node-role.kubernetes.io/control-plane"

// recheck is how often a server node of a one-member cluster is looked at again
// (the cluster may have grown).
const recheck = 30 * time.Second

// Members is the etcd membership (serverjoin.Cluster).
type Members interface {
	// MemberNames names every member, learners included.
	MemberNames(ctx context.Context) ([]string, error)
	// RemoveMember removes the member called name, even this server's own.
	RemoveMember(ctx context.Context, name string) error
}

type etcdMember struct {
	ctl     *controller.Controller
	client  kubernetes.Interface
	nodes   corelisters.NodeLister
	members Members
	events  record.EventRecorder
}

// New returns the controller.
func New(c *controller.Context, m Members) *controller.Controller {
	inf := c.Informers.Core().V1().Nodes()
	e := &etcdMember{client: c.Client, nodes: inf.Lister(), members: m, events: c.Recorder("etcd-member-controller")}
	e.ctl = controller.New("etcd-member", e.sync, 1)
	e.ctl.HasSynced = []cache.InformerSynced{inf.Informer().HasSynced}
	_, _ = inf.Informer().AddEventHandler(e.ctl.Handler())
	return e.ctl
}

func (e *etcdMember) sync(ctx context.Context, name string) error {
	node, err := e.nodes.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, server := node.Labels[ControlPlaneLabel]; !server {
		return nil
	}
	names, err := e.members.MemberNames(ctx)
	if err != nil {
		return err
	}
	act := decide(node, names)
	switch act {
	case recheckLater:
		e.ctl.Queue.AddAfter(name, recheck)
	case addFinalizer:
		next := node.DeepCopy()
		next.Finalizers = append(next.Finalizers, Finalizer)
		_, err := e.client.CoreV1().Nodes().Update(ctx, next, metav1.UpdateOptions{})
		return err
	case removeMember:
		slog.Info("server node deleted: removing its etcd member", "node", name)
		if err := e.members.RemoveMember(ctx, name); err != nil {
			return err
		}
		e.events.Eventf(node, corev1.EventTypeNormal, "EtcdMemberRemoved", "server %s left the etcd cluster: its Node was deleted", name)
		fallthrough
	case dropFinalizer:
		next := node.DeepCopy()
		next.Finalizers = slices.DeleteFunc(next.Finalizers, func(f string) bool { return f == Finalizer })
		_, err := e.client.CoreV1().Nodes().Update(ctx, next, metav1.UpdateOptions{})
		return err
	}
	return nil
}

type action int

const (
	nothing action = iota
	recheckLater
	addFinalizer
	removeMember
	dropFinalizer
)

// decide is what happens to a server node given the etcd members' names. The
// last member is never removed: that would end the cluster, not one server.
func decide(node *corev1.Node, members []string) action {
	member := slices.Contains(members, node.Name)
	final := slices.Contains(node.Finalizers, Finalizer)
	switch {
	case node.DeletionTimestamp == nil && member && len(members) < 2:
		return recheckLater
	case node.DeletionTimestamp == nil && member && !final:
		return addFinalizer
	case node.DeletionTimestamp == nil || !final:
		return nothing
	case member && len(members) > 1:
		return removeMember
	}
	return dropFinalizer
}
