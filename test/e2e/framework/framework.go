// Package framework starts real skiff processes and drives them with the real kubectl,
// for end-to-end tests that read like the session a user would type.
package framework

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Kubectl is the kubectl binary the tests drive.
const Kubectl = "/usr/bin/kubectl"

// InCI reports a CI run, where missing prerequisites fail tests instead of skipping them.
func InCI() bool { return os.Getenv("CI") == "true" }

// Require fails (in CI) or skips (elsewhere) when a prerequisite is missing.
func Require(t testing.TB, ok bool, what string) {
	t.Helper()
	if ok {
		return
	}
	if InCI() {
		t.Fatalf("prerequisite missing: %s", what)
	}
	t.Skipf("prerequisite missing: %s", what)
}

// RepoRoot is the repository's top directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

// Binary returns bin/skiff, building it (and the image binaries) when it is missing
// or SKIFF_BUILD=1.
func Binary() (string, error) {
	if b := os.Getenv("SKIFF_BIN"); b != "" {
		return b, nil
	}
	root := RepoRoot()
	bin := filepath.Join(root, "bin", "skiff")
	if _, err := os.Stat(bin); err == nil && os.Getenv("SKIFF_BUILD") != "1" {
		return bin, nil
	}
	cmd := exec.Command("make", "build")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("make build: %v\n%s", err, out)
	}
	return bin, nil
}

// Cluster is a running `skiff server` process.
type Cluster struct {
	Dir        string
	Kubeconfig string
	LogPath    string
	cmd        *exec.Cmd
	done       chan error
	args       []string
}

// EvictionHard are the kubelet thresholds of every node a test starts (a test's own
// --eviction-hard comes later and wins). The memory threshold is Kubernetes' default;
// the disk ones are absolute because test machines share one large disk that is often
// more than 90% used, where the default nodefs.available<10% would taint the node with
// DiskPressure and evict every pod, whatever the tests themselves need.
const EvictionHard = "memory.available<100Mi,nodefs.available<512Mi,nodefs.inodesFree<1%"

// StartServer runs `skiff server` with a fresh data dir under dir and waits until
// kubectl can reach it.
func StartServer(dir string, extraArgs ...string) (*Cluster, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: filepath.Join(dir, "server"), LogPath: filepath.Join(dir, "server.log")}
	c.Kubeconfig = filepath.Join(c.Dir, "admin.kubeconfig")
	if err := c.start(bin, extraArgs); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) start(bin string, extraArgs []string) error {
	logf, err := os.OpenFile(c.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	c.args = extraArgs
	args := append([]string{"server", "--data-dir", c.Dir, "--https-port", "0", "--bind-address", "0.0.0.0",
		"--eviction-hard", EvictionHard}, extraArgs...)
	c.cmd = exec.Command(bin, args...)
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A previous run's kubeconfig would point at a port that is no longer served.
	_ = os.Remove(c.Kubeconfig)
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	c.done = make(chan error, 1)
	go func() { c.done <- c.cmd.Wait(); logf.Close() }()
	return c.waitReady(90 * time.Second)
}

func (c *Cluster) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case err := <-c.done:
			return fmt.Errorf("skiff server exited: %v\n%s", err, c.Logs())
		default:
		}
		if _, err := os.Stat(c.Kubeconfig); err == nil {
			if out, err := c.Kubectl("get", "--raw", "/readyz"); err == nil && strings.TrimSpace(out) == "ok" {
				return nil
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("skiff server not ready within %s\n%s", timeout, c.Logs())
}

// Restart stops the server (SIGTERM, or SIGKILL when hard) and starts it again on
// the same data dir.
func (c *Cluster) Restart(hard bool, extraArgs ...string) error {
	if extraArgs == nil {
		extraArgs = c.args
	}
	c.signal(hard)
	bin, err := Binary()
	if err != nil {
		return err
	}
	return c.start(bin, extraArgs)
}

func (c *Cluster) signal(hard bool) {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	sig := syscall.SIGTERM
	if hard {
		sig = syscall.SIGKILL
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, sig)
	var err error
	select {
	case err = <-c.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
		err = <-c.done
	}
	c.done <- err // a later Stop or Restart of the stopped server returns at once
}

// Exited waits up to timeout for the server to end by itself and returns how it
// ended; ok is false while it still runs.
func (c *Cluster) Exited(timeout time.Duration) (err error, ok bool) {
	select {
	case err = <-c.done:
		c.done <- err // Stop and Restart wait on it too
		return err, true
	case <-time.After(timeout):
		return nil, false
	}
}

// PID is the server process's id.
func (c *Cluster) PID() int { return c.cmd.Process.Pid }

// Stop ends the server and everything it started.
func (c *Cluster) Stop() { c.signal(false) }

// Args are the extra arguments the server was last started with, for a test that
// restarts it with different ones and then as it was.
func (c *Cluster) Args() []string { return slices.Clone(c.args) }

// Logs returns the tail of the server's log.
func (c *Cluster) Logs() string {
	data, _ := os.ReadFile(c.LogPath)
	if len(data) > 8000 {
		data = data[len(data)-8000:]
	}
	return string(data)
}

// Kubectl runs kubectl against the cluster and returns its standard output; the
// error carries standard error.
func (c *Cluster) Kubectl(args ...string) (string, error) {
	return c.KubectlStdin("", args...)
}

// KubectlStdin is Kubectl with stdin.
func (c *Cluster) KubectlStdin(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Kubectl, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// MustKubectl runs kubectl and fails the test on error.
func (c *Cluster) MustKubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := c.Kubectl(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Eventually polls f until it returns nil or timeout passes, then fails with f's error.
func Eventually(t testing.TB, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("not true within %s: %v", timeout, err)
}
