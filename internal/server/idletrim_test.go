package server

import "testing"

func TestQuiet(t *testing.T) {
	for _, c := range []struct {
		name            string
		allocated, live uint64
		want            bool
	}{
		{"quiet small heap", 1 << 20, 20 << 20, true},
		{"busy: the runtime collected anyway", 40 << 20, 20 << 20, false},
		{"large heap: a forced collection costs too much", 1 << 20, 1 << 30, false},
	} {
		if got := quiet(c.allocated, c.live); got != c.want {
			t.Errorf("%s: quiet(%d, %d) = %v, want %v", c.name, c.allocated, c.live, got, c.want)
		}
	}
}
