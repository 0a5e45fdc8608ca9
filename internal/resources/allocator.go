package resources

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
)

// Allocators hand out the cluster-wide unique values Services need.
type Allocators struct {
	ClusterIPs *IPAllocator
	NodePorts  *PortAllocator
}

// Claims records allocations where every API server sees them, so that several
// servers never hand out the same value; the allocators' own maps only remember
// what this server has seen taken.
type Claims interface {
	Claim(value string) (bool, error)
	Ensure(value string) error
	Release(value string) error
}

// IPAllocator hands out addresses from a CIDR; the network address is never used.
type IPAllocator struct {
	mu     sync.Mutex
	prefix netip.Prefix
	size   int
	used   map[netip.Addr]bool
	claims Claims
}

// Share makes allocations cluster-wide through claims.
func (a *IPAllocator) Share(c Claims) { a.claims = c }

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
	if err := claim(a.claims, ip.String()); err != nil {
		if errors.Is(err, errTaken) {
			return fmt.Errorf("provided IP is already allocated")
		}
		return err
	}
	a.used[ip] = true
	return nil
}

// Mark records an address an existing object holds (at start).
func (a *IPAllocator) Mark(ip netip.Addr) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.used[ip] = true
	return ensure(a.claims, ip.String())
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
		if a.used[ip] {
			continue
		}
		err := claim(a.claims, ip.String())
		if errors.Is(err, errTaken) {
			a.used[ip] = true // another server holds it
			continue
		}
		if err != nil {
			return netip.Addr{}, err
		}
		a.used[ip] = true
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("range is full")
}

// Release returns an address.
func (a *IPAllocator) Release(ip netip.Addr) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used, ip)
	release(a.claims, ip.String())
}

// PortAllocator hands out node ports from a range.
type PortAllocator struct {
	mu         sync.Mutex
	base, size int
	used       map[int]bool
	claims     Claims
}

// Share makes allocations cluster-wide through claims.
func (a *PortAllocator) Share(c Claims) { a.claims = c }

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
	if err := claim(a.claims, strconv.Itoa(port)); err != nil {
		if errors.Is(err, errTaken) {
			return fmt.Errorf("provided port is already allocated")
		}
		return err
	}
	a.used[port] = true
	return nil
}

// Mark records a port an existing object holds (at start).
func (a *PortAllocator) Mark(port int) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.used[port] = true
	return ensure(a.claims, strconv.Itoa(port))
}

// Next reserves a free port.
func (a *PortAllocator) Next() (int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	start := rand.IntN(a.size)
	for i := 0; i < a.size; i++ {
		p := a.base + (start+i)%a.size
		if a.used[p] {
			continue
		}
		err := claim(a.claims, strconv.Itoa(p))
		if errors.Is(err, errTaken) {
			a.used[p] = true // another server holds it
			continue
		}
		if err != nil {
			return 0, err
		}
		a.used[p] = true
		return p, nil
	}
	return 0, fmt.Errorf("range is full")
}

// Release returns a port.
func (a *PortAllocator) Release(port int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.used, port)
	release(a.claims, strconv.Itoa(port))
}

// errTaken is a value another API server has claimed.
var errTaken = errors.New("provided value is already allocated")

// claim records value with c (when allocations are shared).
func claim(c Claims, value string) error {
	if c == nil {
		return nil
	}
	ok, err := c.Claim(value)
	if err != nil {
		return fmt.Errorf("record the allocation: %w", err)
	}
	if !ok {
		return errTaken
	}
	return nil
}

func ensure(c Claims, value string) error {
	if c == nil {
		return nil
	}
	return c.Ensure(value)
}

// release frees value's record; a record that outlives its object only keeps a
// value out of use.
func release(c Claims, value string) {
	if c == nil {
		return
	}
	if err := c.Release(value); err != nil {
		slog.Warn("allocation record not released", "value", value, "err", err)
	}
}
