package apiserver

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/auth"
	"skiff/internal/resources"
	"skiff/internal/store"
)

var (
	ipAddressesGVR  = networkingv1.SchemeGroupVersion.WithResource("ipaddresses")
	serviceCIDRsGVR = networkingv1.SchemeGroupVersion.WithResource("servicecidrs")
)

// ipWriteTimeout bounds one write of an IPAddress object.
const ipWriteTimeout = 10 * time.Second

// ipAddressRecords are the IPAddress objects, written through the API's own
// create and delete paths (defaults, validation, admission, managed fields) as
// an in-process call: the API server writes them, not the user who wrote the
// Service, and the write finishes even if that user's request is cancelled.
type ipAddressRecords struct{ api *API }

func (r ipAddressRecords) ep() *endpoint { return r.api.endpoints[ipAddressesGVR] }

func (r ipAddressRecords) Has(ip netip.Addr) bool {
	_, ok := r.ep().store.Peek("", ip.String())
	return ok
}

func (r ipAddressRecords) Create(ctx context.Context, ip netip.Addr, svc resources.ServiceRef) error {
	ctx, cancel := context.WithTimeout(auth.WithUser(context.WithoutCancel(ctx), nil), ipWriteTimeout)
	defer cancel()
	obj := resources.NewIPAddress(ip, svc)
	obj.GetObjectKind().SetGroupVersionKind(r.ep().StorageGVK())
	_, err := r.api.createObject(ctx, r.ep(), "", obj, writeOptions{manager: resources.IPAllocatorName}, true)
	if apierrors.IsAlreadyExists(err) {
		return resources.ErrIPTaken
	}
	return err
}

// Delete removes ip's IPAddress if svc holds it: one reserved by hand, or
// taken over by another Service, stays.
func (r ipAddressRecords) Delete(ctx context.Context, ip netip.Addr, svc resources.ServiceRef) error {
	ctx, cancel := context.WithTimeout(auth.WithUser(context.WithoutCancel(ctx), nil), ipWriteTimeout)
	defer cancel()
	cur, err := r.ep().store.Get(ctx, "", ip.String())
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	addr := cur.(*networkingv1.IPAddress)
	if ref := addr.Spec.ParentRef; ref == nil || ref.Group != "" || ref.Resource != "services" || ref.Namespace != svc.Namespace || ref.Name != svc.Name {
		return nil
	}
	_, err = r.api.deleteObject(ctx, r.ep(), "", addr.Name, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &addr.UID}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil // gone, or replaced meanwhile
	}
	return err
}

// serviceRanges are the IPv4 ranges of the ServiceCIDRs that take new
// allocations: ready (or not yet judged) and not being deleted, oldest first,
// so the default range fills before the ranges added to extend it. skiff is
// single-stack IPv4: an IPv6 range is stored but gives no addresses.
func (a *API) serviceRanges(ctx context.Context, fresh bool) ([]netip.Prefix, error) {
	rv := "0"
	if fresh {
		rv = ""
	}
	objs, _, _, err := a.endpoints[serviceCIDRsGVR].store.List(ctx, store.ListOptions{ResourceVersion: rv})
	if err != nil {
		return nil, err
	}
	cidrs := make([]*networkingv1.ServiceCIDR, 0, len(objs))
	for _, o := range objs {
		sc := o.(*networkingv1.ServiceCIDR)
		if sc.DeletionTimestamp == nil && !apimeta.IsStatusConditionFalse(sc.Status.Conditions, networkingv1.ServiceCIDRConditionReady) {
			cidrs = append(cidrs, sc)
		}
	}
	slices.SortStableFunc(cidrs, func(x, y *networkingv1.ServiceCIDR) int {
		if c := x.CreationTimestamp.Compare(y.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(x.Name, y.Name)
	})
	var out []netip.Prefix
	for _, sc := range cidrs {
		for _, c := range sc.Spec.CIDRs {
			if p, err := netip.ParsePrefix(c); err == nil && p.Addr().Is4() && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// ipAddressClaims are the allocator's IPAddress objects as allocation records
// for the leak repair: a record is one object at one resourceVersion, so one
// changed or replaced since it was listed is not removed by a stale listing.
type ipAddressClaims struct{ records ipAddressRecords }

func (c ipAddressClaims) List(ctx context.Context) ([]resources.ClaimRecord, error) {
	objs, _, _, err := c.records.ep().store.List(ctx, store.ListOptions{ResourceVersion: "0"})
	if err != nil {
		return nil, err
	}
	var out []resources.ClaimRecord
	for _, o := range objs {
		addr := o.(*networkingv1.IPAddress)
		if addr.Labels[networkingv1.LabelManagedBy] != resources.IPAllocatorName {
			continue // reserved by hand: never a leak
		}
		rv, _ := strconv.ParseInt(addr.ResourceVersion, 10, 64)
		out = append(out, resources.ClaimRecord{Value: addr.Name, Created: rv})
	}
	return out, nil
}

func (c ipAddressClaims) ReleaseRecord(ctx context.Context, r resources.ClaimRecord) (bool, error) {
	rv := strconv.FormatInt(r.Created, 10)
	_, err := c.records.api.deleteObject(ctx, c.records.ep(), "", r.Value, &metav1.DeleteOptions{Preconditions: &metav1.Preconditions{ResourceVersion: &rv}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return false, nil
	}
	return err == nil, err
}

// recordHeld gives an address a Service holds the IPAddress it lacks (lost,
// or removed by hand).
func (c ipAddressClaims) recordHeld(ctx context.Context, value string, svc resources.ServiceRef) error {
	ip, err := netip.ParseAddr(value)
	if err != nil || c.records.Has(ip) {
		return nil
	}
	if err := c.records.Create(ctx, ip, svc); err != nil && err != resources.ErrIPTaken {
		return fmt.Errorf("record cluster IP %s of %s/%s: %w", ip, svc.Namespace, svc.Name, err)
	}
	return nil
}
