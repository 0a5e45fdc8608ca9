package apiserver

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"skiff/internal/kubelet/stats"
)

// statsTTL is how long a node's stats answer is reused: the agents sample every 10s,
// so several `kubectl top` calls in a row cost one request per node.
const statsTTL = 5 * time.Second

// statsFetchTimeout bounds a call to one agent, so one dead node does not stall
// `kubectl top nodes` for the others.
const statsFetchTimeout = 5 * time.Second

// statsCache fetches /stats/summary from node agents through the node proxy's
// transport (the API server's client certificate), caching each answer briefly.
type statsCache struct {
	proxy *nodeProxy
	now   func() time.Time
	// get asks the node; tests replace it.
	get   func(r *http.Request, node string) (*stats.Summary, error)
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]statsEntry
}

type statsEntry struct {
	at  time.Time
	sum *stats.Summary
}

func newStatsCache(p *nodeProxy) *statsCache {
	c := &statsCache{proxy: p, now: time.Now, entries: map[string]statsEntry{}}
	c.get = c.fetch
	return c
}

// Summary returns the node's stats, from the cache when fresh enough.
func (c *statsCache) Summary(r *http.Request, node string) (*stats.Summary, error) {
	c.mu.Lock()
	e, ok := c.entries[node]
	c.mu.Unlock()
	if ok && c.now().Sub(e.at) < statsTTL {
		return e.sum, nil
	}
	v, err, _ := c.group.Do(node, func() (any, error) {
		sum, err := c.get(r, node)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		c.entries[node] = statsEntry{at: c.now(), sum: sum}
		c.mu.Unlock()
		return sum, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*stats.Summary), nil
}

func (c *statsCache) fetch(r *http.Request, node string) (*stats.Summary, error) {
	u, err := c.proxy.nodeURL(r, node)
	if err != nil {
		return nil, err
	}
	u.Path = "/stats/summary"
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), statsFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.proxy.transport.RoundTrip(req)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", node, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("node %s: stats: %s: %s", node, resp.Status, msg)
	}
	var sum stats.Summary
	if err := json.NewDecoder(resp.Body).Decode(&sum); err != nil {
		return nil, fmt.Errorf("node %s: stats: %w", node, err)
	}
	return &sum, nil
}
