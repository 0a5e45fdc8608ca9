package resources

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
)

// Allocators hand out the cluster-wide unique values Services need.
type Allocators struct {
	ClusterIPs *ClusterIPs
	NodePorts  *PortAllocator
}

// Claims records node ports where every API server sees them, so that several
// servers never hand out the same value; the allocator's own map only remembers
// what this server has seen taken.
type Claims interface {
	Claim(value string) (bool, error)
	Ensure(value string) error
	Release(value string) error
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
