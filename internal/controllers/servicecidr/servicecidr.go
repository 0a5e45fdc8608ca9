// Package servicecidr is the ServiceCIDR controller: it marks every ServiceCIDR
// Ready, and keeps one being deleted (with the networking.k8s.io/service-cidr-finalizer
// finalizer, Ready=False reason Terminating) while cluster IPs in its range have
// no other ServiceCIDR to fall back on. Ranges may overlap, as in Kubernetes: a
// range another ServiceCIDR contains goes at once, and an address another range
// also covers does not hold it.
package servicecidr

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	metav1apply "k8s.io/client-go/applyconfigurations/meta/v1"
	networkingapply "k8s.io/client-go/applyconfigurations/networking/v1"
	"k8s.io/client-go/kubernetes"
	networkinglisters "k8s.io/client-go/listers/networking/v1"

	"skiff/internal/controllers/controller"
	"skiff/internal/resources"
)

// Finalizer holds a ServiceCIDR whose range Services still use.
const Finalizer = "networking.k8s.io/service-cidr-finalizer"

// deletionGrace is how long a ServiceCIDR stays after its deletion was asked
// for even when nothing uses it: every API server must have stopped allocating
// from it first.
const deletionGrace = 10 * time.Second

const fieldManager = "service-cidr-controller"

type syncer struct {
	client kubernetes.Interface
	cidrs  networkinglisters.ServiceCIDRLister
	ips    networkinglisters.IPAddressLister
	ctrl   *controller.Controller
	now    func() time.Time
}

// New returns the controller.
func New(c *controller.Context) *controller.Controller {
	cidrs := c.Informers.Networking().V1().ServiceCIDRs()
	ips := c.Informers.Networking().V1().IPAddresses()
	s := &syncer{client: c.Client, cidrs: cidrs.Lister(), ips: ips.Lister(), now: time.Now}
	s.ctrl = controller.New("servicecidr", s.sync, 1)
	s.ctrl.Watch(cidrs.Informer(), controller.Each(s.cidrChanged))
	s.ctrl.Watch(ips.Informer(), controller.Each(s.ipChanged))
	return s.ctrl
}

// cidrChanged wakes sc and the ServiceCIDRs it overlaps: a new range may free
// one being deleted.
func (s *syncer) cidrChanged(obj any) {
	sc, ok := controller.Unwrap[*networkingv1.ServiceCIDR](obj)
	if !ok {
		return
	}
	s.ctrl.Queue.Add(sc.Name)
	all, _ := s.cidrs.List(labels.Everything())
	for _, other := range all {
		if other.Name != sc.Name && overlaps(other, sc) {
			s.ctrl.Queue.Add(other.Name)
		}
	}
}

// ipChanged wakes the ServiceCIDRs holding an allocated address.
func (s *syncer) ipChanged(obj any) {
	addr, ok := controller.Unwrap[*networkingv1.IPAddress](obj)
	if !ok || addr.Labels[networkingv1.LabelManagedBy] != resources.IPAllocatorName {
		return
	}
	ip, err := netip.ParseAddr(addr.Name)
	if err != nil {
		return
	}
	all, _ := s.cidrs.List(labels.Everything())
	for _, sc := range all {
		if holds(sc, ip) {
			s.ctrl.Queue.Add(sc.Name)
		}
	}
}

func (s *syncer) sync(ctx context.Context, name string) error {
	sc, err := s.cidrs.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	all, err := s.cidrs.List(labels.Everything())
	if err != nil {
		return err
	}
	if sc.DeletionTimestamp == nil {
		if err := s.patchFinalizer(ctx, sc, true); err != nil {
			return err
		}
		return s.setReady(ctx, sc, readyCondition(sc))
	}
	ips, err := s.ips.List(labels.SelectorFromSet(labels.Set{networkingv1.LabelManagedBy: resources.IPAllocatorName}))
	if err != nil {
		return err
	}
	if blocker := blockingAddress(sc, all, ips); blocker != nil {
		return s.setReady(ctx, sc, metav1.Condition{Type: networkingv1.ServiceCIDRConditionReady, Status: metav1.ConditionFalse,
			Reason: networkingv1.ServiceCIDRReasonTerminating,
			Message: fmt.Sprintf("There are still IPAddresses referencing the ServiceCIDR (%s, of %s), please remove them or create a new ServiceCIDR",
				blocker.Name, parentOf(blocker))})
	}
	if wait := deletionGrace - s.now().Sub(sc.DeletionTimestamp.Time); wait > 0 {
		s.ctrl.Queue.AddAfter(name, wait)
		return nil
	}
	return s.patchFinalizer(ctx, sc, false)
}

// readyCondition is a live ServiceCIDR's: Ready, unless it has no IPv4 range,
// since skiff is single-stack IPv4 and allocates no IPv6 addresses.
func readyCondition(sc *networkingv1.ServiceCIDR) metav1.Condition {
	c := metav1.Condition{Type: networkingv1.ServiceCIDRConditionReady, Status: metav1.ConditionTrue, Message: "Kubernetes Service CIDR is ready"}
	v4, v6 := false, false
	for _, cidr := range sc.Spec.CIDRs {
		if p, err := netip.ParsePrefix(cidr); err == nil {
			v4, v6 = v4 || p.Addr().Is4(), v6 || p.Addr().Is6()
		}
	}
	switch {
	case !v4:
		c.Status, c.Reason = metav1.ConditionFalse, "IPFamilyNotSupported"
		c.Message = "skiff is single-stack IPv4: an IPv6 range gives Services no addresses"
	case v6:
		c.Message = "Kubernetes Service CIDR is ready; skiff is single-stack IPv4, so its IPv6 range gives Services no addresses"
	}
	return c
}

// blockingAddress is an allocated address only sc's range holds, which keeps sc
// from going; nil when sc may go. A ServiceCIDR whose every range another one
// contains never blocks.
func blockingAddress(sc *networkingv1.ServiceCIDR, all []*networkingv1.ServiceCIDR, ips []*networkingv1.IPAddress) *networkingv1.IPAddress {
	if containedByOthers(sc, all) {
		return nil
	}
	for _, addr := range ips {
		ip, err := netip.ParseAddr(addr.Name)
		if err != nil || !holds(sc, ip) {
			continue
		}
		if !slices.ContainsFunc(all, func(o *networkingv1.ServiceCIDR) bool { return o.Name != sc.Name && holds(o, ip) }) {
			return addr
		}
	}
	return nil
}

// containedByOthers says whether each of sc's ranges lies inside another
// ServiceCIDR's.
func containedByOthers(sc *networkingv1.ServiceCIDR, all []*networkingv1.ServiceCIDR) bool {
	for _, c := range sc.Spec.CIDRs {
		p, err := netip.ParsePrefix(c)
		if err != nil {
			continue
		}
		if !slices.ContainsFunc(all, func(o *networkingv1.ServiceCIDR) bool {
			return o.Name != sc.Name && slices.ContainsFunc(prefixes(o), func(q netip.Prefix) bool { return q.Overlaps(p) && q.Bits() <= p.Bits() })
		}) {
			return false
		}
	}
	return true
}

func prefixes(sc *networkingv1.ServiceCIDR) []netip.Prefix {
	var out []netip.Prefix
	for _, c := range sc.Spec.CIDRs {
		if p, err := netip.ParsePrefix(c); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func holds(sc *networkingv1.ServiceCIDR, ip netip.Addr) bool {
	return slices.ContainsFunc(prefixes(sc), func(p netip.Prefix) bool { return resources.PrefixHolds(p, ip) })
}

func overlaps(a, b *networkingv1.ServiceCIDR) bool {
	for _, p := range prefixes(a) {
		if slices.ContainsFunc(prefixes(b), p.Overlaps) {
			return true
		}
	}
	return false
}

func parentOf(addr *networkingv1.IPAddress) string {
	if ref := addr.Spec.ParentRef; ref != nil {
		return fmt.Sprintf("%s %s/%s", ref.Resource, ref.Namespace, ref.Name)
	}
	return "no parent"
}

// patchFinalizer adds or removes the finalizer, if it is not already so.
func (s *syncer) patchFinalizer(ctx context.Context, sc *networkingv1.ServiceCIDR, want bool) error {
	if slices.Contains(sc.Finalizers, Finalizer) == want {
		return nil
	}
	key := "finalizers"
	if !want {
		key = "$deleteFromPrimitiveList/finalizers"
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{key: []string{Finalizer}}})
	_, err := s.client.NetworkingV1().ServiceCIDRs().Patch(ctx, sc.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err == nil && !want {
		slog.Info("ServiceCIDR released: no Service uses its range", "servicecidr", sc.Name)
	}
	return err
}

// setReady writes the Ready condition when it says something new.
func (s *syncer) setReady(ctx context.Context, sc *networkingv1.ServiceCIDR, c metav1.Condition) error {
	if cur := apimeta.FindStatusCondition(sc.Status.Conditions, c.Type); cur != nil &&
		cur.Status == c.Status && cur.Reason == c.Reason && cur.Message == c.Message {
		return nil
	}
	cond := metav1apply.Condition().WithType(c.Type).WithStatus(c.Status).WithMessage(c.Message).
		WithLastTransitionTime(metav1.NewTime(s.now()))
	if c.Reason != "" {
		cond = cond.WithReason(c.Reason)
	}
	apply := networkingapply.ServiceCIDR(sc.Name).WithStatus(networkingapply.ServiceCIDRStatus().WithConditions(cond))
	_, err := s.client.NetworkingV1().ServiceCIDRs().ApplyStatus(ctx, apply, metav1.ApplyOptions{FieldManager: fieldManager, Force: true})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
