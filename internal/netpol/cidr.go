package netpol

import (
	"cmp"
	"net/netip"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
)

// addrRange is an inclusive range of IPv4 addresses.
type addrRange struct{ from, to netip.Addr }

// blockRanges returns the IPv4 addresses the ipBlock peers of a rule allow (each
// cidr less its excepts), merged into disjoint ranges in order: nftables refuses
// overlapping elements in an interval set. IPv6 blocks are left out: pods here
// have IPv4 addresses only, so they can match no traffic. Blocks that do not parse
// (validation refuses them) allow nothing.
func blockRanges(peers []networkingv1.NetworkPolicyPeer) []addrRange {
	var all []addrRange
	for _, p := range peers {
		if p.IPBlock == nil {
			continue
		}
		r, ok := prefixRange(p.IPBlock.CIDR)
		if !ok {
			continue
		}
		parts := []addrRange{r}
		for _, ex := range p.IPBlock.Except {
			if x, ok := prefixRange(ex); ok {
				parts = subtract(parts, x)
			}
		}
		all = append(all, parts...)
	}
	return merge(all)
}

func prefixRange(cidr string) (addrRange, bool) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is4() {
		return addrRange{}, false
	}
	p = p.Masked()
	last := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	if p.Bits() == 0 {
		host = ^uint32(0)
	}
	v := (uint32(last[0])<<24 | uint32(last[1])<<16 | uint32(last[2])<<8 | uint32(last[3])) | host
	return addrRange{p.Addr(), netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})}, true
}

// subtract removes x from every range of rs.
func subtract(rs []addrRange, x addrRange) []addrRange {
	var out []addrRange
	for _, r := range rs {
		if x.to.Less(r.from) || r.to.Less(x.from) {
			out = append(out, r)
			continue
		}
		if r.from.Less(x.from) {
			out = append(out, addrRange{r.from, x.from.Prev()})
		}
		if x.to.Less(r.to) {
			out = append(out, addrRange{x.to.Next(), r.to})
		}
	}
	return out
}

// merge sorts rs and joins overlapping and adjacent ranges.
func merge(rs []addrRange) []addrRange {
	slices.SortFunc(rs, func(a, b addrRange) int { return cmp.Or(a.from.Compare(b.from), a.to.Compare(b.to)) })
	var out []addrRange
	for _, r := range rs {
		// Next of 255.255.255.255 is invalid: nothing can follow such a range.
		if n := len(out); n > 0 && (!out[n-1].to.Next().IsValid() || !out[n-1].to.Next().Less(r.from)) {
			if out[n-1].to.Less(r.to) {
				out[n-1].to = r.to
			}
			continue
		}
		out = append(out, r)
	}
	return out
}

func (r addrRange) contains(a netip.Addr) bool {
	return !a.Less(r.from) && !r.to.Less(a)
}

// element is the range as an nftables interval element.
func (r addrRange) element() string {
	if r.from == r.to {
		return r.from.String()
	}
	return r.from.String() + "-" + r.to.String()
}
