// Command pause is PID 1 of every pod sandbox. It holds the pod's namespaces open while
// the pod's containers come and go, and, because orphaned processes in a shared PID
// namespace are re-parented to it, it reaps them so they do not linger as zombies.
//
// It takes no flags and exits 0 on SIGTERM or SIGINT.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 16)
	// A handler must be installed even for SIGTERM: the kernel drops signals that PID 1
	// of a namespace leaves at their default action, so without one the runtime could
	// only stop the sandbox with SIGKILL.
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	os.Exit(run(sigs, nil))
}

// run waits on sigs until a termination signal arrives, reaping children on each
// SIGCHLD. reaped, if set, is told about every child reaped (tests use it).
func run(sigs <-chan os.Signal, reaped func(pid int, status syscall.WaitStatus)) int {
	for sig := range sigs {
		switch sig {
		case syscall.SIGCHLD:
			reapAll(reaped)
		case syscall.SIGTERM, syscall.SIGINT:
			fmt.Fprintf(os.Stderr, "pause: %v, exiting\n", sig)
			reapAll(reaped)
			return 0
		}
	}
	return 0
}

// reapAll collects every exited child. Signals coalesce (several children can exit for
// one SIGCHLD), so it loops until no exited child is left instead of waiting once.
func reapAll(reaped func(pid int, status syscall.WaitStatus)) {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			// ECHILD: no children at all; pid 0: children, but none has exited.
			return
		}
		if reaped != nil {
			reaped(pid, status)
		}
	}
}
