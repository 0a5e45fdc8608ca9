package memtune

import "testing"

func TestSmall(t *testing.T) {
	for live, want := range map[uint64]bool{20 << 20: true, trimMaxLive: true, 1 << 30: false} {
		if got := small(live); got != want {
			t.Errorf("small(%d) = %v, want %v", live, got, want)
		}
	}
}
