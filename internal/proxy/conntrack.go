package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"
)

// staleFlows are the UDP flows of old that want no longer has.
func staleFlows(old, want map[Flow]bool) []Flow {
	var out []Flow
	for f := range old {
		if !want[f] {
			out = append(out, f)
		}
	}
	return out
}

// conntrackArgs deletes the entries of one flow: UDP to the frontend, DNATed to the
// endpoint. Entries of the same pod reached directly are not touched.
func conntrackArgs(f Flow) []string {
	args := []string{"-D", "-p", "udp"}
	if f.Dest != "" {
		args = append(args, "--orig-dst", f.Dest)
	}
	return append(args, "--orig-port-dst", fmt.Sprint(f.Port), "--dst-nat", f.Endpoint)
}

// flushFlows deletes the conntrack entries of removed UDP flows. UDP has no
// connection to break, so without this a client keeps sending to a gone endpoint
// until the entry times out. Failures are logged only: the rules are right anyway.
func (p *Proxier) flushFlows(ctx context.Context, flows []Flow) {
	for _, f := range flows {
		if err := p.conntrack(ctx, conntrackArgs(f)...); err != nil {
			slog.Warn("could not flush UDP conntrack entries", "flow", f, "err", err)
			if errors.Is(err, exec.ErrNotFound) {
				return
			}
		}
	}
}

// runConntrack runs the conntrack CLI (package conntrack, conntrack-tools).
func runConntrack(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "conntrack", args...).CombinedOutput()
	// conntrack exits 1 when nothing matched, which is not a failure here.
	if err != nil && !strings.Contains(string(out), "0 flow entries") {
		return fmt.Errorf("conntrack %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
