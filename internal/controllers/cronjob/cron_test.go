package cronjob

import (
	"testing"
	"time"
)

func TestScheduleNext(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse("2006-01-02 15:04", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		spec, from, want string
	}{
		{"*/1 * * * *", "2026-01-01 10:00", "2026-01-01 10:01"},
		{"*/15 * * * *", "2026-01-01 10:07", "2026-01-01 10:15"},
		{"5/20 * * * *", "2026-01-01 10:26", "2026-01-01 10:45"},
		{"0 9-17/4 * * *", "2026-01-01 14:00", "2026-01-01 17:00"},
		{"30 2 * * mon-fri", "2026-01-02 03:00", "2026-01-05 02:30"}, // Friday → Monday
		{"0 0 1,15 * *", "2026-01-02 00:00", "2026-01-15 00:00"},
		{"0 0 * feb *", "2026-03-01 00:00", "2027-02-01 00:00"},
		{"0 0 13 * 5", "2026-01-01 00:00", "2026-01-02 00:00"}, // 13th OR Friday
		{"0 0 * * 7", "2026-01-01 00:00", "2026-01-04 00:00"},  // 7 is Sunday
		{"@hourly", "2026-01-01 10:59", "2026-01-01 11:00"},
		{"@daily", "2026-01-01 10:00", "2026-01-02 00:00"},
		{"@weekly", "2026-01-01 10:00", "2026-01-04 00:00"},
		{"@monthly", "2026-01-31 10:00", "2026-02-01 00:00"},
		{"@yearly", "2026-06-01 00:00", "2027-01-01 00:00"},
		{"0 0 29 2 *", "2026-01-01 00:00", "2028-02-29 00:00"},
	}
	for _, tt := range tests {
		s, err := Parse(tt.spec)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.spec, err)
			continue
		}
		if got := s.Next(utc(tt.from)); !got.Equal(utc(tt.want)) {
			t.Errorf("%q after %s = %s, want %s", tt.spec, tt.from, got.Format(time.RFC3339), tt.want)
		}
	}
	if s, _ := Parse("0 0 30 2 *"); !s.Next(utc("2026-01-01 00:00")).IsZero() {
		t.Error("February 30th fired")
	}
}

func TestScheduleInTimeZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	s, _ := Parse("0 9 * * *")
	got := s.Next(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC).In(ny))
	if want := time.Date(2026, 1, 1, 14, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("9:00 New York = %s UTC, want %s", got.UTC(), want)
	}
}

func TestParseErrors(t *testing.T) {
	for _, spec := range []string{"", "* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "* * * 13 *",
		"*/0 * * * *", "5-1 * * * *", "@every 5m", "a * * * *", "* * * * 8"} {
		if _, err := Parse(spec); err == nil {
			t.Errorf("Parse(%q) accepted", spec)
		}
	}
}

func TestMostRecent(t *testing.T) {
	s, _ := Parse("*/5 * * * *")
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name          string
		earliest, now time.Time
		want          time.Time
		count         int
	}{
		{"nothing due yet", base, base.Add(4 * time.Minute), time.Time{}, 0},
		{"one due", base, base.Add(5 * time.Minute), base.Add(5 * time.Minute), 1},
		{"downtime: only the latest", base, base.Add(62 * time.Minute), base.Add(60 * time.Minute), 12},
		{"a day missed", base, base.Add(24 * time.Hour), base.Add(24 * time.Hour), 288},
	}
	for _, tt := range tests {
		got, n := MostRecent(s, tt.earliest, tt.now)
		if !got.Equal(tt.want) || n != tt.count {
			t.Errorf("%s: got %s ×%d, want %s ×%d", tt.name, got, n, tt.want, tt.count)
		}
	}
}
