package density

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The per-phase breakdown: with DENSITY_TRACE=1 the server logs at debug level
// (SKIFF_DEBUG) and the kubelet's debug lines for each pod's start are read back
// from its log, so the time from create to Running splits into where it went.

// tracing reports whether the breakdown was asked for.
func tracing() bool { return os.Getenv("DENSITY_TRACE") != "" }

// podTrace holds when each step of one pod's start ended, as the server logged it.
type podTrace struct {
	seen, queued, sandboxStart, sandboxDone, volumes, image, created, started, written time.Time
	// puts counts the status writes until the pod ran.
	puts int
}

var (
	logTime  = regexp.MustCompile(`^time=(\S+)`)
	logMsg   = regexp.MustCompile(`msg="([^"]*)"|msg=(\S+)`)
	logField = regexp.MustCompile(` (pod|took|queued|phase)=(\S+)`)
)

// readTraces parses the server log for the pods of namespace ns, by pod name.
func readTraces(path, ns string) (map[string]*podTrace, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]*podTrace{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, "pod="+ns+"/") {
			continue
		}
		tm, msg, fields := parseLine(line)
		if tm.IsZero() {
			continue
		}
		name := strings.TrimPrefix(fields["pod"], ns+"/")
		t := out[name]
		if t == nil {
			t = &podTrace{}
			out[name] = t
		}
		took, _ := time.ParseDuration(fields["took"])
		set := func(p *time.Time, v time.Time) {
			if p.IsZero() {
				*p = v
			}
		}
		switch msg {
		case "pod worker starts":
			set(&t.seen, tm)
		case "sandbox running":
			queued, _ := time.ParseDuration(fields["queued"])
			set(&t.queued, tm.Add(-took-queued))
			set(&t.sandboxStart, tm.Add(-took))
			set(&t.sandboxDone, tm)
		case "volumes ready":
			if !t.sandboxDone.IsZero() {
				set(&t.volumes, tm)
			}
		case "image ready":
			set(&t.image, tm)
		case "container created":
			set(&t.created, tm)
		case "container started":
			set(&t.started, tm)
		case "status put":
			if t.written.IsZero() {
				t.puts++
			}
			if fields["phase"] == "Running" {
				set(&t.written, tm)
			}
		}
	}
	return out, sc.Err()
}

func parseLine(line string) (time.Time, string, map[string]string) {
	m := logTime.FindStringSubmatch(line)
	if m == nil {
		return time.Time{}, "", nil
	}
	tm, err := time.Parse(time.RFC3339Nano, m[1])
	if err != nil {
		return time.Time{}, "", nil
	}
	msg := ""
	if mm := logMsg.FindStringSubmatch(line); mm != nil {
		msg = mm[1] + mm[2]
	}
	fields := map[string]string{}
	for _, f := range logField.FindAllStringSubmatch(line, -1) {
		fields[f[1]] = f[2]
	}
	return tm, msg, fields
}

// reportPhases prints p50/p99 of each step of the start, from the create call to
// the client seeing Running.
func reportPhases(b *testing.B, ns string, created, runningAt []time.Time) {
	traces, err := readTraces(node.Cluster.LogPath, ns)
	if err != nil {
		b.Logf("phase breakdown: %v", err)
		return
	}
	type step struct {
		name     string
		from, to func(i int, t *podTrace) time.Time
	}
	at := func(f func(*podTrace) time.Time) func(int, *podTrace) time.Time {
		return func(_ int, t *podTrace) time.Time { return f(t) }
	}
	steps := []step{
		{"create→worker started (API, informer)", func(i int, _ *podTrace) time.Time { return created[i] }, at(func(t *podTrace) time.Time { return t.seen })},
		{"worker→sandbox queued", at(func(t *podTrace) time.Time { return t.seen }), at(func(t *podTrace) time.Time { return t.queued })},
		{"sandbox pool wait", at(func(t *podTrace) time.Time { return t.queued }), at(func(t *podTrace) time.Time { return t.sandboxStart })},
		{"RunPodSandbox (pause, netns, CNI)", at(func(t *podTrace) time.Time { return t.sandboxStart }), at(func(t *podTrace) time.Time { return t.sandboxDone })},
		{"sandbox→volumes ready", at(func(t *podTrace) time.Time { return t.sandboxDone }), at(func(t *podTrace) time.Time { return t.volumes })},
		{"volumes→image ready", at(func(t *podTrace) time.Time { return t.volumes }), at(func(t *podTrace) time.Time { return t.image })},
		{"image→container created", at(func(t *podTrace) time.Time { return t.image }), at(func(t *podTrace) time.Time { return t.created })},
		{"created→started", at(func(t *podTrace) time.Time { return t.created }), at(func(t *podTrace) time.Time { return t.started })},
		{"started→Running status written", at(func(t *podTrace) time.Time { return t.started }), at(func(t *podTrace) time.Time { return t.written })},
		{"written→client sees Running", at(func(t *podTrace) time.Time { return t.written }), func(i int, _ *podTrace) time.Time { return runningAt[i] }},
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "phase breakdown over %d pods (p50 / p99 / max):\n", len(traces))
	for _, s := range steps {
		var d []time.Duration
		for i := range created {
			t := traces[fmt.Sprintf("density-%d", i)]
			if t == nil {
				continue
			}
			from, to := s.from(i, t), s.to(i, t)
			if from.IsZero() || to.IsZero() {
				continue
			}
			d = append(d, to.Sub(from))
		}
		if len(d) == 0 {
			fmt.Fprintf(&sb, "  %-40s no data\n", s.name)
			continue
		}
		slices.Sort(d)
		r := func(x time.Duration) time.Duration { return x.Round(time.Millisecond) }
		fmt.Fprintf(&sb, "  %-40s %8v %8v %8v  (n=%d)\n", s.name, r(pct(d, 0.5)), r(pct(d, 0.99)), r(d[len(d)-1]), len(d))
	}
	puts := 0
	for _, t := range traces {
		puts += t.puts
	}
	fmt.Fprintf(&sb, "  status writes per pod until Running: %.1f\n", float64(puts)/float64(max(1, len(traces))))
	fmt.Print(sb.String()) // b.Log would cut a benchmark's output at ten lines
}

func pct(d []time.Duration, p float64) time.Duration { return d[min(len(d)-1, int(float64(len(d))*p))] }
