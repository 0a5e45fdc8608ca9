package resources

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IPAllocatorName marks the IPAddress objects the cluster IP allocator owns
// (label ipaddress.kubernetes.io/managed-by), as Kubernetes marks them; an
// address someone reserves by hand lacks it, and no repair ever removes it.
const IPAllocatorName = "ipallocator.k8s.io"

// ServiceRef names the Service an address is allocated to.
type ServiceRef struct{ Namespace, Name string }

// IPRecords are the IPAddress objects: one per address in use, which every API
// server sees. Creating one is atomic in etcd, so of two servers that pick the
// same address one gets it, and an address someone reserved is never handed out.
type IPRecords interface {
	// Has says whether ip has a record as far as this server has seen (it may lag).
	Has(ip netip.Addr) bool
	// Create records ip as svc's; ErrIPTaken if it already has a record.
	Create(ctx context.Context, ip netip.Addr, svc ServiceRef) error
	// Delete removes ip's record if it is svc's.
	Delete(ctx context.Context, ip netip.Addr, svc ServiceRef) error
}

// ErrIPTaken is an address that already has an IPAddress object.
var ErrIPTaken = errors.New("provided IP is already allocated")

// ClusterIPs hands out Service cluster IPs from the ranges of the ServiceCIDRs.
type ClusterIPs struct {
	Records IPRecords
	// Ranges are the ranges new addresses may come from, in the order Next tries
	// them. fresh asks for a view at least as new as the request: the cached view
	// may not show a ServiceCIDR created a moment ago.
	Ranges func(ctx context.Context, fresh bool) ([]netip.Prefix, error)
}

// NewIPAddress is the record of ip held by svc, as the allocator writes it.
func NewIPAddress(ip netip.Addr, svc ServiceRef) *networkingv1.IPAddress {
	family := "IPv4"
	if ip.Is6() {
		family = "IPv6"
	}
	return &networkingv1.IPAddress{
		ObjectMeta: metav1.ObjectMeta{Name: ip.String(), Labels: map[string]string{
			networkingv1.LabelIPAddressFamily: family,
			networkingv1.LabelManagedBy:       IPAllocatorName,
		}},
		Spec: networkingv1.IPAddressSpec{ParentRef: &networkingv1.ParentReference{Resource: "services", Namespace: svc.Namespace, Name: svc.Name}},
	}
}

// Allocate gives svc the address ip, which must lie in a range and be free. A
// dry run only checks.
func (a *ClusterIPs) Allocate(ctx context.Context, ip netip.Addr, svc ServiceRef, dryRun bool) error {
	ranges, err := a.Ranges(ctx, false)
	if err != nil {
		return err
	}
	if !anyHolds(ranges, ip) {
		if ranges, err = a.Ranges(ctx, true); err != nil {
			return err
		}
		if !anyHolds(ranges, ip) {
			return fmt.Errorf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, rangeList(ranges))
		}
	}
	if dryRun {
		if a.Records.Has(ip) {
			return ErrIPTaken
		}
		return nil
	}
	return a.Records.Create(ctx, ip, svc)
}

// Next gives svc a free address: from the first range with room, so that a
// ServiceCIDR added later extends the ones before it. A dry run only finds one.
func (a *ClusterIPs) Next(ctx context.Context, svc ServiceRef, dryRun bool) (netip.Addr, error) {
	ranges, err := a.Ranges(ctx, false)
	if err != nil {
		return netip.Addr{}, err
	}
	ip, err := a.nextIn(ctx, ranges, svc, dryRun)
	if !errors.Is(err, errRangeFull) {
		return ip, err
	}
	fresh, err := a.Ranges(ctx, true)
	if err != nil {
		return netip.Addr{}, err
	}
	if ip, err = a.nextIn(ctx, newRanges(fresh, ranges), svc, dryRun); errors.Is(err, errRangeFull) {
		return netip.Addr{}, fmt.Errorf("range is full: every address of %s is allocated; a ServiceCIDR adds more", rangeList(fresh))
	}
	return ip, err
}

var errRangeFull = errors.New("range is full")

func (a *ClusterIPs) nextIn(ctx context.Context, ranges []netip.Prefix, svc ServiceRef, dryRun bool) (netip.Addr, error) {
	for _, p := range ranges {
		for ip := range candidates(p, rand.Uint64()) {
			if a.Records.Has(ip) {
				continue
			}
			if dryRun {
				return ip, nil
			}
			err := a.Records.Create(ctx, ip, svc)
			if errors.Is(err, ErrIPTaken) {
				continue // another server took it a moment ago
			}
			return ip, err
		}
	}
	return netip.Addr{}, errRangeFull
}

// Mark records an address an existing Service holds (at start: Services
// written before their addresses had IPAddress objects).
func (a *ClusterIPs) Mark(ctx context.Context, ip netip.Addr, svc ServiceRef) error {
	if a.Records.Has(ip) {
		return nil
	}
	if err := a.Records.Create(ctx, ip, svc); err != nil && !errors.Is(err, ErrIPTaken) {
		return err
	}
	return nil
}

// Release frees svc's address. A record left behind by a failure only keeps the
// address out of use until the allocation repair removes it.
func (a *ClusterIPs) Release(ctx context.Context, ip netip.Addr, svc ServiceRef) {
	if err := a.Records.Delete(ctx, ip, svc); err != nil {
		slog.Warn("cluster IP not released", "ip", ip, "service", svc.Namespace+"/"+svc.Name, "err", err)
	}
}

// candidates are p's usable addresses in the order Next tries them: as in
// Kubernetes, dynamic allocation prefers the upper part of a range and leaves its
// first addresses (.1 for the API server, .10 for DNS) to Services that ask for
// them; each part is walked from a random point, so concurrent servers rarely
// pick the same address. IPv4 ranges lose their network and broadcast addresses.
func candidates(p netip.Prefix, seed uint64) iter.Seq[netip.Addr] {
	return func(yield func(netip.Addr) bool) {
		first, size, n := usable(p)
		var offset uint64
		if size > 16 {
			offset = min(max(size/16, 16), 256)
		}
		walk := func(from, count uint64) bool {
			for i := range count {
				if !yield(addrAt(first, from+(seed+i)%count)) {
					return false
				}
			}
			return true
		}
		if n > offset && walk(offset, n-offset) {
			walk(0, min(offset, n))
		}
	}
}

// usable is p's first usable address, the size of the range and how many of its
// addresses are usable (a range larger than 2^32 addresses is used in part).
func usable(p netip.Prefix) (first netip.Addr, size, n uint64) {
	p = p.Masked()
	size = uint64(1) << min(p.Addr().BitLen()-p.Bits(), 32)
	reserved := uint64(1) // the network address
	if p.Addr().Is4() {
		reserved++ // and the broadcast address
	}
	if size > reserved {
		n = size - reserved
	}
	return p.Addr().Next(), size, n
}

func addrAt(first netip.Addr, i uint64) netip.Addr {
	b := first.As16()
	for k := 15; k >= 0 && i > 0; k-- {
		sum := uint64(b[k]) + i&0xff
		b[k] = byte(sum)
		i = i>>8 + sum>>8
	}
	a := netip.AddrFrom16(b)
	if first.Is4() {
		return a.Unmap()
	}
	return a
}

// PrefixHolds says whether ip is a usable address of p: inside it, and not its
// network address (nor, for IPv4, its broadcast address).
func PrefixHolds(p netip.Prefix, ip netip.Addr) bool {
	p = p.Masked()
	if !p.Contains(ip) || ip == p.Addr() {
		return false
	}
	if ip.Is4() {
		return ip != lastAddr(p)
	}
	return true
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().AsSlice()
	for bit := p.Bits(); bit < len(b)*8; bit++ {
		b[bit/8] |= 0x80 >> (bit % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

func anyHolds(ranges []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ranges {
		if PrefixHolds(p, ip) {
			return true
		}
	}
	return false
}

// newRanges are the ranges of fresh not in seen, which a second pass tries.
func newRanges(fresh, seen []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range fresh {
		if !containsPrefix(seen, p) {
			out = append(out, p)
		}
	}
	return out
}

func containsPrefix(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}

func rangeList(ranges []netip.Prefix) string {
	if len(ranges) == 0 {
		return "empty: no ServiceCIDR is ready"
	}
	s := make([]string, len(ranges))
	for i, p := range ranges {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

// NthAddr is the n-th address of a range: .1 is the API server's, .10 the DNS
// service's.
func NthAddr(p netip.Prefix, n uint64) netip.Addr { return addrAt(p.Masked().Addr(), n) }
