package kubelet

import (
	"sync"
	"time"
)

// backoff spaces out restarts of a crashing container (and retries of a failing
// image pull): the first retry is immediate, then 10s doubling to 5min; a key that
// has not been retried for resetAfter (10 min, i.e. the container ran that long)
// starts over.
type backoff struct {
	initial, max, resetAfter time.Duration
	mu                       sync.Mutex
	entries                  map[string]backoffEntry
}

type backoffEntry struct {
	delay   time.Duration
	updated time.Time // when the last retry was let through
}

func newBackoff(initial, maxDelay, resetAfter time.Duration) *backoff {
	return &backoff{initial: initial, max: maxDelay, resetAfter: resetAfter, entries: map[string]backoffEntry{}}
}

// Wait returns how long key must still wait, counting from since (when the container
// finished or the pull failed); 0 means retry now.
func (b *backoff) Wait(key string, since, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	if !ok {
		return 0
	}
	if now.Sub(e.updated) > b.resetAfter {
		delete(b.entries, key)
		return 0
	}
	return max(since.Add(e.delay).Sub(now), 0)
}

// Retried records that key was retried at now, doubling its next delay.
func (b *backoff) Retried(key string, now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.entries[key]
	switch {
	case !ok || now.Sub(e.updated) > b.resetAfter:
		e.delay = b.initial
	default:
		e.delay = min(e.delay*2, b.max)
	}
	e.updated = now
	b.entries[key] = e
}

// Delay is key's current delay (for messages), 0 if none.
func (b *backoff) Delay(key string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.entries[key].delay
}

// Forget drops every key with the given prefix (a pod that is gone).
func (b *backoff) Forget(prefix string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.entries {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			delete(b.entries, k)
		}
	}
}
