package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as the pause program, so the signal handling can be
// tested in a real process without building it first.
func TestMain(m *testing.M) {
	if os.Getenv("PAUSE_TEST_RUN_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestExitsZeroOnTerm(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "PAUSE_TEST_RUN_MAIN=1")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Give it time to install its handler; before that the signal would kill it,
			// which the exit-code check below reports as a failure, not a hang.
			time.Sleep(300 * time.Millisecond)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("pause exited with %v (stderr %q), want exit 0", err, stderr.String())
				}
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("pause did not exit after the signal")
			}
		})
	}
}

func TestReapsZombies(t *testing.T) {
	// Start children directly (not through os/exec, which would wait for them itself)
	// and let them exit, so they are zombies of this process.
	want := map[int]bool{}
	for range 3 {
		pid, err := syscall.ForkExec("/bin/sh", []string{"sh", "-c", "exit 3"}, &syscall.ProcAttr{})
		if err != nil {
			t.Fatal(err)
		}
		want[pid] = true
	}
	for pid := range want {
		waitZombie(t, pid)
	}

	sigs := make(chan os.Signal, 2)
	sigs <- syscall.SIGCHLD // one signal for three exits: signals coalesce
	sigs <- syscall.SIGTERM
	got := map[int]int{}
	code := run(sigs, func(pid int, st syscall.WaitStatus) { got[pid] = st.ExitStatus() })
	if code != 0 {
		t.Errorf("run returned %d, want 0", code)
	}
	for pid := range want {
		status, ok := got[pid]
		if !ok {
			t.Errorf("child %d was not reaped (reaped: %v)", pid, got)
		} else if status != 3 {
			t.Errorf("child %d exit status %d, want 3", pid, status)
		}
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("child %d still in /proc after reaping", pid)
		}
	}
}

// waitZombie waits until pid has exited and is waiting to be reaped.
func waitZombie(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			t.Fatalf("child %d: %v", pid, err)
		}
		// Fields: pid (comm) state ...; comm may hold spaces, so look after the ')'.
		if i := bytes.LastIndexByte(stat, ')'); i >= 0 && len(stat) > i+2 && stat[i+2] == 'Z' {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("child %d did not exit", pid)
}
