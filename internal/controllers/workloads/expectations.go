package workloads

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// expectationsTTL bounds how long a controller waits for the informer to show what it
// wrote: a lost watch event must not stall the owner forever.
const expectationsTTL = 5 * time.Minute

// Expectations remember the creations and deletions a controller has asked for but not
// yet seen through its informer. Until they are seen, the cache undercounts (or
// overcounts) pods, and acting on it would create (or delete) twice.
type Expectations struct {
	mu  sync.Mutex
	m   map[string]*expectation
	now func() time.Time
}

type expectation struct {
	adds int
	dels map[types.UID]bool
	at   time.Time
}

// NewExpectations returns empty expectations.
func NewExpectations() *Expectations {
	return &Expectations{m: map[string]*expectation{}, now: time.Now}
}

func (e *Expectations) get(key string) *expectation {
	x, ok := e.m[key]
	if !ok {
		x = &expectation{dels: map[types.UID]bool{}}
		e.m[key] = x
	}
	return x
}

// ExpectCreations records that n creations for key are in flight.
func (e *Expectations) ExpectCreations(key string, n int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	x.adds += n
	x.at = e.now()
}

// CreationObserved records that one creation for key was seen (or failed).
func (e *Expectations) CreationObserved(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok && x.adds > 0 {
		x.adds--
	}
}

// ExpectDeletions records that the pods with uids are being deleted for key.
func (e *Expectations) ExpectDeletions(key string, uids ...types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.get(key)
	for _, u := range uids {
		x.dels[u] = true
	}
	x.at = e.now()
}

// DeletionObserved records that uid was seen going (or its deletion failed).
func (e *Expectations) DeletionObserved(key string, uid types.UID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x, ok := e.m[key]; ok {
		delete(x.dels, uid)
	}
}

// Satisfied reports whether key has nothing in flight, or waited long enough.
func (e *Expectations) Satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x, ok := e.m[key]
	if !ok {
		return true
	}
	return (x.adds <= 0 && len(x.dels) == 0) || e.now().Sub(x.at) > expectationsTTL
}

// Forget drops key, when its owner is gone.
func (e *Expectations) Forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.m, key)
}
