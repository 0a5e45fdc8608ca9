package manager

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSelect(t *testing.T) {
	cons := map[string]Constructor{"a": nil, "b": nil, "c": nil}
	tests := []struct {
		sel     []string
		want    []string
		wantErr bool
	}{
		{nil, []string{"a", "b", "c"}, false},
		{[]string{"*", "-b"}, []string{"a", "c"}, false},
		{[]string{"c", "a"}, []string{"a", "c"}, false},
		{[]string{"*", "-nope"}, nil, true},
	}
	for _, tt := range tests {
		got, err := Select(tt.sel, cons)
		if (err != nil) != tt.wantErr {
			t.Errorf("Select(%v) error %v, want error %v", tt.sel, err, tt.wantErr)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Select(%v) (-want +got):\n%s", tt.sel, diff)
		}
	}
}
