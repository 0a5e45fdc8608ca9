package memtune

import "testing"

func TestGCPercentFor(t *testing.T) {
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 100}, {200 << 20, 100}, {1 << 30, 100}, {2 << 30, 50}, {3 << 30, 33}, {8 << 30, 25}, {64 << 30, 25},
	} {
		if got := gcPercentFor(tc.live); got != tc.want {
			t.Errorf("gcPercentFor(%d MiB) = %d, want %d", tc.live>>20, got, tc.want)
		}
	}
}
