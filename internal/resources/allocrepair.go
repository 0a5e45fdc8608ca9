package resources

import (
	"strconv"
	"time"
)

// ClaimRecord is one allocation record as etcd holds it: the value and the
// revision the record was created at, which tells a record from a newer one of
// the same value.
type ClaimRecord struct {
	Value   string
	Created int64
}

// LeakedClaims finds allocation records that no Service holds: left by a server
// that crashed between claiming a value and writing its Service, or by a
// release that failed. A record is leaked only once it has been unheld for the
// whole grace period: a Service being created holds its claim a moment before
// it is written, and another server's cache may lag.
type LeakedClaims struct {
	Grace time.Duration
	since map[ClaimRecord]time.Time
}

// Step takes the records now in etcd and the values the Services hold (read
// after the records), and returns the records unheld for longer than the grace
// period. What it returns is forgotten: the caller releases it.
func (l *LeakedClaims) Step(now time.Time, records []ClaimRecord, held map[string]bool) []ClaimRecord {
	since := map[ClaimRecord]time.Time{}
	var leaked []ClaimRecord
	for _, r := range records {
		if held[r.Value] {
			continue
		}
		first, seen := l.since[r]
		if !seen {
			first = now
		}
		if now.Sub(first) >= l.Grace {
			leaked = append(leaked, r)
			continue
		}
		since[r] = first
	}
	l.since = since
	return leaked
}

// Resync makes the ports this server counts as used exactly those in values.
func (a *PortAllocator) Resync(values []string) {
	used := map[int]bool{}
	for _, v := range values {
		if p, err := strconv.Atoi(v); err == nil {
			used[p] = true
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.used = used
}
