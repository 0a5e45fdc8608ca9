package main

import (
	"strings"
	"testing"
)

func TestExpandShort(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"-qO- http://x", "-q -O - http://x"},
		{"-q -O - -T 2 http://x", "-q -O - -T 2 http://x"},
		{"-T2 -qO /tmp/f http://x", "-T 2 -q -O /tmp/f http://x"},
		{"--spider http://x", "--spider http://x"},
	} {
		if got := strings.Join(expandShort(strings.Fields(tt.in), "OT"), " "); got != tt.want {
			t.Errorf("expandShort(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
