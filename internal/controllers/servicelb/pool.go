package servicelb

import (
	"fmt"
	"net/netip"
	"strings"
)

// Pool is a range of addresses load balancers get. It is plain data, so allocation
// is a function of the pool and the addresses in use.
type Pool struct {
	First, Last netip.Addr
}

// ParsePool reads "a-b" (inclusive), a CIDR or a single address. In a CIDR of more
// than two addresses the network and broadcast addresses are left out, since
// nothing could answer on them.
func ParsePool(s string) (Pool, error) {
	s = strings.TrimSpace(s)
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err := netip.ParseAddr(strings.TrimSpace(first))
		if err != nil {
			return Pool{}, fmt.Errorf("pool %q: %w", s, err)
		}
		b, err := netip.ParseAddr(strings.TrimSpace(last))
		if err != nil {
			return Pool{}, fmt.Errorf("pool %q: %w", s, err)
		}
		if a.BitLen() != b.BitLen() || b.Less(a) {
			return Pool{}, fmt.Errorf("pool %q: the range must go up within one address family", s)
		}
		return Pool{First: a, Last: b}, nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return Pool{First: a, Last: a}, nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return Pool{}, fmt.Errorf("pool %q: want first-last, a CIDR or an address", s)
	}
	p = p.Masked()
	first, last := p.Addr(), lastAddr(p)
	if p.Addr().Is4() && p.Bits() < 31 {
		first, last = first.Next(), last.Prev()
	}
	return Pool{First: first, Last: last}, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := p.Bits(); i < len(b)*8; i++ {
		b[i/8] |= 0x80 >> (i % 8)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// Contains reports whether a is in the pool.
func (p Pool) Contains(a netip.Addr) bool {
	return a.BitLen() == p.First.BitLen() && !a.Less(p.First) && !p.Last.Less(a)
}

// Pick returns the lowest address of the pool that is not in use.
func (p Pool) Pick(used map[netip.Addr]bool) (netip.Addr, bool) {
	for a := p.First; a.IsValid() && !p.Last.Less(a); a = a.Next() {
		if !used[a] {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func (p Pool) String() string {
	return p.First.String() + "-" + p.Last.String()
}
