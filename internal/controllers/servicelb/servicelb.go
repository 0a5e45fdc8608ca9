// Package servicelb is the built-in load-balancer controller (like k3s's ServiceLB
// or MetalLB in layer-2 mode): it gives every Service of type LoadBalancer that
// names no other loadBalancerClass an address, from a configured pool or, without
// one, the InternalIPs of the ready nodes, and writes it to
// status.loadBalancer.ingress. The service proxy on every node then answers on it.
package servicelb

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"skiff/internal/controllers/controller"
)

// ConditionAllocated is the Service status condition that says whether the
// controller could give the Service an address, and if not, why.
const ConditionAllocated = "LoadBalancerIPAllocated"

// Reasons of the condition and of the Events.
const (
	ReasonAllocated   = "IPAllocated"
	ReasonExhausted   = "PoolExhausted"
	ReasonUnavailable = "RequestedIPUnavailable"
	ReasonNoNodes     = "NoReadyNodes"
	ReasonReleased    = "IPReleased"
)

type balancer struct {
	ctx      *controller.Context
	ctrl     *controller.Controller
	services corelisters.ServiceLister
	nodes    corelisters.NodeLister
	pool     *Pool // nil: use the nodes' addresses
	recorder record.EventRecorder

	mu sync.Mutex
	// assigned are the addresses this controller gave, by service key. It is
	// rebuilt from the Services' status after a restart and is what makes two
	// Services synced back to back never get the same address.
	assigned map[string]netip.Addr
}

// New returns the controller. pool is "first-last", a CIDR or an address; empty
// means every ready node's InternalIP.
func New(c *controller.Context, pool string) (*controller.Controller, error) {
	b := &balancer{ctx: c, assigned: map[string]netip.Addr{}, recorder: c.Recorder("service-lb-controller")}
	if pool != "" {
		p, err := ParsePool(pool)
		if err != nil {
			return nil, err
		}
		b.pool = &p
	}
	svcInf := c.Informers.Core().V1().Services()
	b.services = svcInf.Lister()
	b.ctrl = controller.New("servicelb", b.sync, 1)
	if _, err := svcInf.Informer().AddEventHandler(b.ctrl.Handler()); err != nil {
		return nil, err
	}
	b.ctrl.HasSynced = append(b.ctrl.HasSynced, svcInf.Informer().HasSynced)
	if b.pool == nil {
		nodeInf := c.Informers.Core().V1().Nodes()
		b.nodes = nodeInf.Lister()
		// Any node change may change every load balancer's addresses.
		all := func(any) { b.enqueueLoadBalancers(func(*corev1.Service) bool { return true }) }
		if _, err := nodeInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
			AddFunc: all, UpdateFunc: func(_, o any) { all(o) }, DeleteFunc: all}); err != nil {
			return nil, err
		}
		b.ctrl.HasSynced = append(b.ctrl.HasSynced, nodeInf.Informer().HasSynced)
	}
	return b.ctrl, nil
}

// ours reports whether the Service is one this controller serves.
func ours(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.LoadBalancerClass == nil
}

func (b *balancer) sync(ctx context.Context, key string) error {
	svc, found, err := controller.Get(key, b.services.Services)
	if !found {
		if err == nil {
			b.release(key)
		}
		return err
	}
	if !ours(svc) {
		if b.release(key) && svc.Spec.LoadBalancerClass == nil {
			b.recorder.Eventf(svc, corev1.EventTypeNormal, ReasonReleased, "Released the load-balancer address: the Service is now %s", svc.Spec.Type)
		}
		return nil
	}
	ingress, cond := b.desired(key, svc)
	return b.writeStatus(ctx, svc, ingress, cond)
}

// desired returns the ingress addresses of svc and the condition saying how they
// were found.
func (b *balancer) desired(key string, svc *corev1.Service) ([]netip.Addr, metav1.Condition) {
	cond := metav1.Condition{Type: ConditionAllocated, Status: metav1.ConditionTrue, Reason: ReasonAllocated,
		ObservedGeneration: svc.Generation}
	if b.pool == nil {
		addrs := b.nodeAddresses()
		if len(addrs) == 0 {
			cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, ReasonNoNodes, "no ready node has an InternalIP"
		} else {
			cond.Message = "load balancer on the ready nodes' addresses"
		}
		return addrs, cond
	}
	addr, reason, msg := b.allocate(key, svc)
	if !addr.IsValid() {
		cond.Status, cond.Reason, cond.Message = metav1.ConditionFalse, reason, msg
		return nil, cond
	}
	cond.Message = "address " + addr.String() + " from pool " + b.pool.String()
	return []netip.Addr{addr}, cond
}

// allocate returns svc's address: the one it already has, the one it asks for
// (spec.loadBalancerIP), or the lowest free one. An invalid address comes with the
// reason and message for the user.
func (b *balancer) allocate(key string, svc *corev1.Service) (netip.Addr, string, string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	used := b.usedLocked(key)
	keep := func(a netip.Addr) bool {
		if a.IsValid() && b.pool.Contains(a) && !used[a] {
			b.assigned[key] = a
			return true
		}
		return false
	}
	if want := svc.Spec.LoadBalancerIP; want != "" {
		a, _ := netip.ParseAddr(want)
		if keep(a) {
			return a, "", ""
		}
		return netip.Addr{}, ReasonUnavailable, fmt.Sprintf("requested address %s is not free in pool %s", want, b.pool)
	}
	if keep(b.assigned[key]) {
		return b.assigned[key], "", ""
	}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if a, err := netip.ParseAddr(ing.IP); err == nil && keep(a) {
			return a, "", ""
		}
	}
	a, ok := b.pool.Pick(used)
	if !ok {
		return netip.Addr{}, ReasonExhausted, fmt.Sprintf("no free address in pool %s", b.pool)
	}
	b.assigned[key] = a
	return a, "", ""
}

// usedLocked is every pool address held by a Service other than key: those this
// controller assigned, and those in the status of Services it has not synced yet
// (after a restart).
func (b *balancer) usedLocked(key string) map[netip.Addr]bool {
	used := map[netip.Addr]bool{}
	for k, a := range b.assigned {
		if k != key {
			used[a] = true
		}
	}
	svcs, _ := b.services.List(labels.Everything())
	for _, s := range svcs {
		k, _ := cache.MetaNamespaceKeyFunc(s)
		if k == key || !ours(s) {
			continue
		}
		if _, known := b.assigned[k]; known {
			continue
		}
		for _, ing := range s.Status.LoadBalancer.Ingress {
			if a, err := netip.ParseAddr(ing.IP); err == nil && b.pool.Contains(a) {
				used[a] = true
			}
		}
	}
	return used
}

// release forgets key's address and, if there was one, lets Services waiting for an
// address try again. It reports whether something was released.
func (b *balancer) release(key string) bool {
	b.mu.Lock()
	a, had := b.assigned[key]
	delete(b.assigned, key)
	b.mu.Unlock()
	if !had {
		return false
	}
	slog.Info("load-balancer address released", "service", key, "ip", a)
	b.enqueueLoadBalancers(func(s *corev1.Service) bool { return len(s.Status.LoadBalancer.Ingress) == 0 })
	return true
}

func (b *balancer) enqueueLoadBalancers(match func(*corev1.Service) bool) {
	svcs, _ := b.services.List(labels.Everything())
	for _, s := range svcs {
		if ours(s) && match(s) {
			b.ctrl.Enqueue(s)
		}
	}
}

// nodeAddresses are the InternalIPs of the ready nodes, sorted.
func (b *balancer) nodeAddresses() []netip.Addr {
	nodes, _ := b.nodes.List(labels.Everything())
	var out []netip.Addr
	for _, n := range nodes {
		if !nodeReady(n) {
			continue
		}
		for _, a := range n.Status.Addresses {
			if ip, err := netip.ParseAddr(a.Address); a.Type == corev1.NodeInternalIP && err == nil && !slices.Contains(out, ip) {
				out = append(out, ip)
			}
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// writeStatus updates the Service's status when the addresses or the condition
// changed, with an Event for the user either way.
func (b *balancer) writeStatus(ctx context.Context, svc *corev1.Service, addrs []netip.Addr, cond metav1.Condition) error {
	ingress := make([]corev1.LoadBalancerIngress, len(addrs))
	for i, a := range addrs {
		ingress[i] = corev1.LoadBalancerIngress{IP: a.String(), IPMode: new(corev1.LoadBalancerIPModeVIP)}
	}
	old := meta.FindStatusCondition(svc.Status.Conditions, ConditionAllocated)
	sameCond := old != nil && old.Status == cond.Status && old.Reason == cond.Reason && old.Message == cond.Message &&
		old.ObservedGeneration == cond.ObservedGeneration
	if sameIngress(svc.Status.LoadBalancer.Ingress, ingress) && sameCond {
		return nil
	}
	upd := svc.DeepCopy()
	upd.Status.LoadBalancer.Ingress = ingress
	meta.SetStatusCondition(&upd.Status.Conditions, cond)
	if _, err := b.ctx.Client.CoreV1().Services(svc.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{}); err != nil {
		return err
	}
	switch {
	case cond.Status == metav1.ConditionFalse:
		b.recorder.Event(svc, corev1.EventTypeWarning, cond.Reason, cond.Message)
		slog.Warn("no load-balancer address", "service", svc.Namespace+"/"+svc.Name, "reason", cond.Reason, "message", cond.Message)
	case !sameIngress(svc.Status.LoadBalancer.Ingress, ingress):
		b.recorder.Eventf(svc, corev1.EventTypeNormal, ReasonAllocated, "Load balancer on %v", addrs)
		slog.Info("load-balancer address assigned", "service", svc.Namespace+"/"+svc.Name, "ips", addrs)
	}
	return nil
}

func sameIngress(a, b []corev1.LoadBalancerIngress) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.LoadBalancerIngress) bool {
		return x.IP == y.IP && x.Hostname == y.Hostname
	})
}
