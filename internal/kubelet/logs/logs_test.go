package logs

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

const sample = `2026-11-23T10:00:00.000000001Z stdout F first
2026-11-23T10:00:01.5Z stderr F second
2026-11-23T10:00:02Z stdout P par
2026-11-23T10:00:02.1Z stdout P ti
2026-11-23T10:00:02.2Z stdout F al
2026-11-23T10:00:03Z stdout F
2026-11-23T10:00:04Z stdout F last
`

func TestParseLine(t *testing.T) {
	e, err := ParseLine([]byte("2026-11-23T10:00:02Z stderr P a b c"))
	if err != nil || e.Stream != "stderr" || !e.Partial || string(e.Content) != "a b c" || e.Time.Second() != 2 {
		t.Errorf("got %+v, %v", e, err)
	}
	for _, bad := range []string{"", "nonsense", "2026-11-23T10:00:02Z stdin F x", "2026-11-23T10:00:02Z stdout X x"} {
		if _, err := ParseLine([]byte(bad)); err == nil {
			t.Errorf("ParseLine(%q) accepted", bad)
		}
	}
}

func TestCopy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"all", Options{TailLines: -1}, "first\nsecond\npartial\n\nlast\n"},
		{"tail 2", Options{TailLines: 2}, "\nlast\n"},
		{"tail 3 keeps a split line whole", Options{TailLines: 3}, "partial\n\nlast\n"},
		{"tail 0", Options{TailLines: 0}, ""},
		{"tail more than there is", Options{TailLines: 100}, "first\nsecond\npartial\n\nlast\n"},
		{"since", Options{TailLines: -1, Since: time.Date(2026, 11, 23, 10, 0, 3, 0, time.UTC)}, "\nlast\n"},
		{"timestamps", Options{TailLines: 1, Timestamps: true}, "2026-11-23T10:00:04Z last\n"},
		{"limit bytes", Options{TailLines: -1, LimitBytes: 8}, "first\nse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Copy(context.Background(), &b, path, tt.opts, nil); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("got %q, want %q", b.String(), tt.want)
			}
		})
	}
}

func TestCopyFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	if err := os.WriteFile(path, []byte("2026-11-23T10:00:00Z stdout F one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stopped atomic.Bool
	done := make(chan string)
	go func() {
		var b bytes.Buffer
		_ = Copy(context.Background(), &b, path, Options{TailLines: -1, Follow: true}, func() bool { return !stopped.Load() })
		done <- b.String()
	}()
	time.Sleep(300 * time.Millisecond)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("2026-11-23T10:00:01Z stdout F two\n")
	f.Close()
	time.Sleep(300 * time.Millisecond)
	stopped.Store(true)
	select {
	case got := <-done:
		if got != "one\ntwo\n" {
			t.Errorf("followed %q, want one and two", got)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("follow did not end after the container stopped")
	}
}
