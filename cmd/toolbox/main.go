// Command toolbox is the program in skiff's toolbox image that e2e tests run in pods, in
// the spirit of Kubernetes' agnhost: one small static binary with a subcommand for each
// behaviour a test needs from a container (serve HTTP with controllable probes, fail,
// use up memory or CPU, echo over TCP/UDP, resolve names).
//
// Long-running subcommands exit 0 on SIGTERM or SIGINT: a container's main process is
// PID 1, which the kernel does not kill with a signal it has no handler for, so without
// this every pod deletion would wait out its whole grace period.
//
// It uses only the standard library, because it is copied into an image; whoami (to
// show that client-go's in-cluster config works), webhook (AdmissionReview types) and
// the CSI driver and registrar (gRPC, the CSI spec) are the exceptions.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"syscall"
	"time"
)

type command struct {
	usage string
	run   func(ctx context.Context, args []string) error
}

var commands = map[string]command{
	"serve":         {"serve [--port 8080] [--ready-after D] [--healthy-for D]", runServe},
	"fail":          {"fail [--code 1] [--after D] [--message TEXT]", runFail},
	"hog-memory":    {"hog-memory --mb N [--step 10]", runHogMemory},
	"hog-cpu":       {"hog-cpu [--millicores 1000] [--for D]", runHogCPU},
	"sleep":         {"sleep D|SECONDS|infinity", runSleep},
	"tcp-echo":      {"tcp-echo [--port 7]", runTCPEcho},
	"udp-echo":      {"udp-echo [--port 7]", runUDPEcho},
	"dns-lookup":    {"dns-lookup [--timeout 5s] NAME", runDNSLookup},
	"wget":          {"wget [-q] [-O FILE|-] [-T SECONDS] URL", runWget},
	"curl":          {"curl [-sSfkLi] [-o FILE] [-m SECONDS] [-X METHOD] [-H HEADER] [-d DATA] URL", runCurl},
	"webhook":       {"webhook [--port 8443] [--cert F] [--key F] [--label k=v] [--deny k=v] (HTTPS admission and conversion webhook: /mutate /validate /convert /hang /garbage)", runWebhook},
	"whoami":        {"whoami (the pod's service account user, via client-go's in-cluster config)", runWhoami},
	"csi-hostpath":  {"csi-hostpath [--endpoint /csi/csi.sock] [--nodeid N] [--state-dir D] (a CSI driver keeping volumes as directories)", runCSIHostpath},
	"csi-registrar": {"csi-registrar --kubelet-registration-path P [--csi-address A] [--registration-dir D] (node-driver-registrar)", runCSIRegistrar},
}

// exitError carries a chosen exit code out of a subcommand.
type exitError struct{ code int }

func (e exitError) Error() string { return "exit " + strconv.Itoa(e.code) }

func main() {
	args := os.Args[1:]
	// Invoked through the /bin/wget or /bin/curl link: act as that command.
	if name := filepath.Base(os.Args[0]); name == "wget" || name == "curl" {
		args = append([]string{name}, args...)
	}
	os.Exit(run(args, os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		usage(stderr)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "toolbox: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	err := cmd.run(ctx, args[1:])
	var exit exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		return exit.code
	case errors.Is(err, flag.ErrHelp):
		return 2
	default:
		fmt.Fprintf(stderr, "toolbox %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: toolbox COMMAND [flags]")
	var lines []string
	for _, c := range commands {
		lines = append(lines, c.usage)
	}
	sort.Strings(lines)
	for _, l := range lines {
		fmt.Fprintln(w, "  toolbox "+l)
	}
	fmt.Fprintln(w, "durations are Go durations (500ms, 30s, 5m)")
}

// newFlags returns a flag set whose errors go back to run instead of exiting.
func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("toolbox "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	return fs
}

func runFail(ctx context.Context, args []string) error {
	fs := newFlags("fail")
	code := fs.Int("code", 1, "exit code")
	after := fs.Duration("after", 0, "wait this long before exiting")
	msg := fs.String("message", "", "text to print to stderr (default: says what is happening)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := sleepCtx(ctx, *after); err != nil {
		return nil // asked to stop before failing: a clean exit, like every other command
	}
	if *msg == "" {
		*msg = fmt.Sprintf("toolbox fail: exiting with code %d as asked", *code)
	}
	fmt.Fprintln(os.Stderr, *msg)
	return exitError{*code}
}

func runSleep(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return errors.New("want exactly one argument: a duration, a number of seconds, or infinity")
	}
	d, err := parseSleep(args[0])
	if err != nil {
		return err
	}
	_ = sleepCtx(ctx, d)
	return nil
}

// parseSleep accepts what sleep(1) users type (seconds, "infinity") as well as Go
// durations. A negative result means forever.
func parseSleep(s string) (time.Duration, error) {
	if s == "infinity" || s == "inf" {
		return -1, nil
	}
	if secs, err := strconv.ParseFloat(s, 64); err == nil && secs >= 0 {
		return time.Duration(secs * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration (like 30s), a number of seconds, or infinity", s)
	}
	return d, nil
}

// sleepCtx waits for d (forever if d < 0) or until ctx ends, returning ctx's error then.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d < 0 {
		<-ctx.Done()
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
