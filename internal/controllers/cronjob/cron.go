package cronjob

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed five-field cron expression: minute hour day-of-month month
// day-of-week, each a set of allowed values.
type Schedule struct {
	minute, hour, dom, month, dow uint64
	// Classic cron: when both day fields are restricted, a day matching either runs.
	domStar, dowStar bool
}

var macros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
}

type field struct {
	name     string
	min, max int
	names    map[string]int
}

var (
	months = map[string]int{"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
	days   = map[string]int{"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
	fields = []field{
		{"minute", 0, 59, nil}, {"hour", 0, 23, nil}, {"day of month", 1, 31, nil},
		{"month", 1, 12, months}, {"day of week", 0, 7, days},
	}
)

// Parse reads a standard cron expression or one of the @yearly-style macros.
func Parse(spec string) (*Schedule, error) {
	spec = strings.TrimSpace(spec)
	if m, ok := macros[strings.ToLower(spec)]; ok {
		spec = m
	}
	parts := strings.Fields(spec)
	if len(parts) != 5 {
		return nil, fmt.Errorf("expected exactly 5 fields, found %d: %q", len(parts), spec)
	}
	var sets [5]uint64
	for i, p := range parts {
		s, err := parseField(p, fields[i])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fields[i].name, err)
		}
		sets[i] = s
	}
	// Day of week 7 is Sunday, as in most crons.
	if sets[4]&(1<<7) != 0 {
		sets[4] = sets[4]&^(1<<7) | 1
	}
	return &Schedule{minute: sets[0], hour: sets[1], dom: sets[2], month: sets[3], dow: sets[4],
		domStar: isStar(parts[2]), dowStar: isStar(parts[4])}, nil
}

func isStar(p string) bool { return strings.HasPrefix(p, "*") || strings.HasPrefix(p, "?") }

// parseField reads a comma-separated list of *, n, a-b, each optionally /step.
func parseField(p string, f field) (uint64, error) {
	var set uint64
	for _, item := range strings.Split(p, ",") {
		rng, stepStr, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			var err error
			if step, err = strconv.Atoi(stepStr); err != nil || step <= 0 {
				return 0, fmt.Errorf("bad step %q", stepStr)
			}
		}
		lo, hi, err := parseRange(rng, f, hasStep)
		if err != nil {
			return 0, err
		}
		for v := lo; v <= hi; v += step {
			set |= 1 << uint(v)
		}
	}
	return set, nil
}

func parseRange(r string, f field, hasStep bool) (int, int, error) {
	if r == "*" || r == "?" {
		return f.min, f.max, nil
	}
	a, b, isRange := strings.Cut(r, "-")
	lo, err := value(a, f)
	if err != nil {
		return 0, 0, err
	}
	hi := lo
	switch {
	case isRange:
		if hi, err = value(b, f); err != nil {
			return 0, 0, err
		}
	case hasStep:
		hi = f.max // "5/15" means from 5 to the end, every 15
	}
	if hi < lo {
		return 0, 0, fmt.Errorf("range %q runs backwards", r)
	}
	return lo, hi, nil
}

func value(s string, f field) (int, error) {
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("bad value %q", s)
	}
	if v < f.min || v > f.max {
		return 0, fmt.Errorf("value %d out of range [%d, %d]", v, f.min, f.max)
	}
	return v, nil
}

func has(set uint64, v int) bool { return set&(1<<uint(v)) != 0 }

func (s *Schedule) dayMatches(t time.Time) bool {
	dom, dow := has(s.dom, t.Day()), has(s.dow, int(t.Weekday()))
	if s.domStar || s.dowStar {
		return dom && dow
	}
	return dom || dow
}

// Next is the first time after t (in t's location) that the schedule fires; zero if
// none within five years (such as February 30th).
func (s *Schedule) Next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(5, 0, 0)
	for t.Before(limit) {
		switch {
		case !has(s.month, int(t.Month())):
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, loc)
		case !s.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, loc)
		case !has(s.hour, t.Hour()):
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc)
		case !has(s.minute, t.Minute()):
			t = t.Truncate(time.Minute).Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}
