package cronjob

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

func mustParse(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	s, err := cron.ParseStandard(spec)
	if err != nil {
		t.Fatalf("ParseStandard(%q): %v", spec, err)
	}
	return s
}

func TestMostRecent(t *testing.T) {
	base := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name, spec    string
		earliest, now time.Time
		want          time.Time
		count         int
	}{
		{"nothing due yet", "*/5 * * * *", base, base.Add(4 * time.Minute), time.Time{}, 0},
		{"one due", "*/5 * * * *", base, base.Add(5 * time.Minute), base.Add(5 * time.Minute), 1},
		{"downtime: only the latest", "*/5 * * * *", base, base.Add(62 * time.Minute), base.Add(60 * time.Minute), 12},
		{"a day missed", "*/5 * * * *", base, base.Add(24 * time.Hour), base.Add(24 * time.Hour), 288},
		// The API accepts these, so the controller must run them.
		{"@every", "@every 90m", base, base.Add(4 * time.Hour), base.Add(180 * time.Minute), 2},
		{"TZ= in the schedule", "TZ=America/New_York 0 9 * * *", base, base.Add(24 * time.Hour),
			time.Date(2026, 1, 1, 14, 0, 0, 0, time.UTC), 1},
		{"@every 1s after a month away", "@every 1s", base, base.Add(30 * 24 * time.Hour), base.Add(30 * 24 * time.Hour), 30 * 24 * 3600},
	}
	for _, tt := range tests {
		got, n := MostRecent(mustParse(t, tt.spec), tt.earliest, tt.now)
		if !got.Equal(tt.want) || n != tt.count {
			t.Errorf("%s: got %s ×%d, want %s ×%d", tt.name, got, n, tt.want, tt.count)
		}
	}
}

// The schedule runs in the CronJob's timeZone: MostRecent gets times in it.
func TestMostRecentInTimeZone(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal("no tzdata:", err)
	}
	now := time.Date(2026, 1, 1, 15, 0, 0, 0, time.UTC).In(ny)
	got, _ := MostRecent(mustParse(t, "0 9 * * *"), now.Add(-2*time.Hour), now)
	if want := time.Date(2026, 1, 1, 14, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("9:00 New York = %s UTC, want %s", got.UTC(), want)
	}
}
