package apiserver

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"skiff/internal/kubelet/stats"
)

func TestStatsCacheReusesFreshAnswers(t *testing.T) {
	now := time.Unix(1000, 0)
	var calls atomic.Int32
	fail := false
	c := newStatsCache(nil)
	c.now = func() time.Time { return now }
	c.get = func(_ *http.Request, node string) (*stats.Summary, error) {
		calls.Add(1)
		if fail {
			return nil, errors.New("agent down")
		}
		return &stats.Summary{Node: stats.NodeStats{NodeName: node}}, nil
	}
	r := httptest.NewRequest("GET", "/", nil)
	steps := []struct {
		name      string
		advance   time.Duration
		fail      bool
		wantErr   bool
		wantCalls int32
	}{
		{"first read asks the agent", 0, false, false, 1},
		{"a read within the TTL is served from the cache", statsTTL / 2, false, false, 1},
		{"after the TTL the agent is asked again", statsTTL, false, false, 2},
		{"a failing agent is an error, not a stale answer", statsTTL, true, true, 3},
		{"errors are not cached", 0, false, false, 4},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		fail = s.fail
		sum, err := c.Summary(r, "n1")
		if (err != nil) != s.wantErr || (err == nil && sum.Node.NodeName != "n1") {
			t.Errorf("%s: summary %+v, err %v", s.name, sum, err)
		}
		if got := calls.Load(); got != s.wantCalls {
			t.Errorf("%s: agent asked %d times, want %d", s.name, got, s.wantCalls)
		}
	}
}

func TestStatsCacheCollapsesConcurrentReads(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	c := newStatsCache(nil)
	c.get = func(*http.Request, string) (*stats.Summary, error) {
		calls.Add(1)
		<-release
		return &stats.Summary{}, nil
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.Summary(httptest.NewRequest("GET", "/", nil), "n1")
		}()
	}
	time.Sleep(100 * time.Millisecond) // let the readers pile up on the one call
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Errorf("10 concurrent reads asked the agent %d times, want 1", n)
	}
}
