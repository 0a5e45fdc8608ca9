package resources

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sync"
)

// Allocators hand out the cluster-wide unique values Services need.
type Allocators struct {
	ClusterIPs *IPAllocator
	NodePorts  *PortAllocator
}

// IPAllocator hands out addresses from a CIDR; the network address is never used.
type IPAllocator struct {
	mu     sync.Mutex
	prefix netip.Prefix
	size   int
	used   map[netip.Addr]bool
}

// NewIPAllocator covers cidr, e.g. "10.43.0.0/16".
func NewIPAllocator(cidr string) (*IPAllocator, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("service CIDR %q: %w", cidr, err)
	}
	p = p.Masked()
	if !p.Addr().Is4() || p.Bits() > 30 || p.Bits() < 12 {
		return nil, fmt.Errorf("service CIDR %q must be an IPv4 range between /12 and /30", cidr)
	}
	return &IPAllocator{prefix: p, size: 1 << (32 - p.Bits()), used: map[netip.Addr]bool{}}, nil
}

// Nth is the n-th address of the range: .1 is the API server's, .10 the DNS service's.
func (a *IPAllocator) Nth(n int) netip.Addr {
	b := a.prefix.Addr().As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) + uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Range is the CIDR, for messages.
func (a *IPAllocator) Range() string { return a.prefix.String() }

// Allocate reserves a specific address.
func (a *IPAllocator) Allocate(ip netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.prefix.Contains(ip) || ip == a.prefix.Addr() || ip == a.Nth(a.size-1) {
		return fmt.Errorf("the provided IP (%s) is not in the valid range. The range of valid IPs is %s", ip, a.prefix)
	}
	if a.used[ip] {
		return fmt.Errorf("provided IP is already allocated")
	}
	a.used[ip] = true
	return nil
}

// Next reserves a free address, starting from a random point so that concurrent
// servers rarely collide; the low 16 addresses are kept for well-known services.
func (a *IPAllocator) Next() (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	usable := a.size - 2
	start := rand.IntN(usable)
	for i := 0; i < usable; i++ {
		n := 1 + (start+i)%usable
		if n < 16 && a.size > 64 {
			continue
		}
		ip := a.Nth(n)
		if !a.used[ip] {
			a.used[ip] = true
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("range is full")
}

// Release returns an address.
func (a *IPAllocator) Release(ip netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used, ip)
}

// PortAllocator hands out node ports from a range.
type PortAllocator struct {
	mu         sync.Mutex
	base, size int
	used       map[int]bool
}

// NewPortAllocator covers [base, base+size).
func NewPortAllocator(base, size int) *PortAllocator {
	return &PortAllocator{base: base, size: size, used: map[int]bool{}}
}

// Allocate reserves a specific port.
func (a *PortAllocator) Allocate(port int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if port < a.base || port >= a.base+a.size {
		return fmt.Errorf("provided port is not in the valid range. The range of valid ports is %d-%d", a.base, a.base+a.size-1)
	}
	if a.used[port] {
		return fmt.Errorf("provided port is already allocated")
	}
	a.used[port] = true
	return nil
}

// Next reserves a free port.
func (a *PortAllocator) Next() (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := rand.IntN(a.size)
	for i := 0; i < a.size; i++ {
		p := a.base + (start+i)%a.size
		if !a.used[p] {
			a.used[p] = true
			return p, nil
		}
	}
	return 0, fmt.Errorf("range is full")
}

// Release returns a port.
func (a *PortAllocator) Release(port int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used, port)
}
