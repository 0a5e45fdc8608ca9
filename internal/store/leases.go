package store

import (
	"context"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// leases shares one etcd lease among objects with the same TTL created within a minute
// of each other (events), instead of granting a lease per object.
type leases struct {
	cli *clientv3.Client

	mu      sync.Mutex
	current map[int64]grant
}

type grant struct {
	id      clientv3.LeaseID
	expires time.Time
}

// get returns a lease that lives at least ttl seconds and at most a minute longer.
func (l *leases) get(ctx context.Context, ttl int64) (clientv3.LeaseID, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.current == nil {
		l.current = map[int64]grant{}
	}
	now := time.Now()
	if g, ok := l.current[ttl]; ok && g.expires.Sub(now) > time.Duration(ttl)*time.Second {
		return g.id, nil
	}
	resp, err := l.cli.Grant(ctx, ttl+60)
	if err != nil {
		return 0, err
	}
	l.current[ttl] = grant{id: resp.ID, expires: now.Add(time.Duration(ttl+60) * time.Second)}
	return resp.ID, nil
}
