package resources

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestLeakedClaims: a record no Service holds is leaked once it has been unheld
// for the grace period, not before; a held record never is; a record claimed
// again (a new creation revision) starts its grace period anew.
func TestLeakedClaims(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	held := ClaimRecord{Value: "10.96.0.5", Created: 10}
	orphan := ClaimRecord{Value: "10.96.0.6", Created: 11}
	reclaimed := ClaimRecord{Value: "10.96.0.6", Created: 20}
	holders := map[string]bool{"10.96.0.5": true}
	steps := []struct {
		name    string
		at      time.Duration
		records []ClaimRecord
		held    map[string]bool
		want    []ClaimRecord
	}{
		{"first seen unheld", 0, []ClaimRecord{held, orphan}, holders, nil},
		{"within the grace period", 59 * time.Second, []ClaimRecord{held, orphan}, holders, nil},
		{"released and claimed again", 61 * time.Second, []ClaimRecord{held, reclaimed}, holders, nil},
		{"its Service appears", 90 * time.Second, []ClaimRecord{held, reclaimed}, map[string]bool{"10.96.0.5": true, "10.96.0.6": true}, nil},
		{"its Service is gone again", 100 * time.Second, []ClaimRecord{held, reclaimed}, holders, nil},
		{"unheld for the whole grace period", 160 * time.Second, []ClaimRecord{held, reclaimed}, holders, []ClaimRecord{reclaimed}},
		{"a held record never leaks", 10 * time.Minute, []ClaimRecord{held}, holders, nil},
	}
	l := LeakedClaims{Grace: time.Minute}
	for _, s := range steps {
		got := l.Step(t0.Add(s.at), s.records, s.held)
		if diff := cmp.Diff(s.want, got); diff != "" {
			t.Fatalf("%s: leaked (-want +got):\n%s", s.name, diff)
		}
	}
}

// TestResyncFreesWhatOthersReleased: a port this server saw taken by another
// server is handed out again once its record is gone.
func TestResyncFreesWhatOthersReleased(t *testing.T) {
	p := NewPortAllocator(30000, 1)
	if _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Next(); err == nil {
		t.Fatal("a full range handed out a second port")
	}
	p.Resync(nil)
	if port, err := p.Next(); err != nil || port != 30000 {
		t.Fatalf("after the resync: %d, %v; want 30000", port, err)
	}
}
