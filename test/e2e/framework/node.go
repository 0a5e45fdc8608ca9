package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// NodePrerequisites names what is missing to run real pods here, or "".
func NodePrerequisites() string {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root")
	}
	for _, bin := range []string{"containerd", "runc", "nft", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		missing = append(missing, "containernetworking-plugins")
	}
	if _, err := os.Stat(Kubectl); err != nil {
		missing = append(missing, Kubectl)
	}
	return strings.Join(missing, ", ")
}

// WaitNodeReady waits until the node reports Ready.
func (c *Cluster) WaitNodeReady(name string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		out, _ := c.Kubectl("get", "node", name, "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if out == "True" {
			return nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return fmt.Errorf("node %s not Ready within 2m\n%s", name, c.Logs())
}

// Cleanup removes what the server's own node left behind: pods keep running when an
// agent stops (by design), so tests reset the node explicitly.
func (c *Cluster) Cleanup() {
	resetNode(filepath.Join(c.Dir, "agent"), c.nodeName())
}

func (c *Cluster) nodeName() string {
	for i, a := range c.args {
		if a == "--node-name" && i+1 < len(c.args) {
			return c.args[i+1]
		}
	}
	return ""
}

func resetNode(dataDir, name string) {
	bin, err := Binary()
	if err != nil {
		return
	}
	args := []string{"agent", "reset", "--data-dir", dataDir}
	if name != "" {
		args = append(args, "--node-name", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "reset node %s: %v\n%s", name, err, out)
	}
}

// Agent is a running `skiff agent` process: another node of the cluster.
type Agent struct {
	Name, Dir, LogPath string
	cluster            *Cluster
	bin                string
	args               []string
	cmd                *exec.Cmd
	done               chan error
}

// StartAgent joins a node named name to the cluster, with its data under dir.
func (c *Cluster) StartAgent(dir, name string, extraArgs ...string) (*Agent, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	token, err := os.ReadFile(filepath.Join(c.Dir, "token"))
	if err != nil {
		return nil, err
	}
	server, err := c.Kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}")
	if err != nil {
		return nil, err
	}
	a := &Agent{Name: name, Dir: filepath.Join(dir, name), LogPath: filepath.Join(dir, name+".log"), cluster: c, bin: bin}
	a.args = append([]string{"agent", "--server", strings.TrimSpace(server), "--token", strings.TrimSpace(string(token)),
		"--data-dir", a.Dir, "--node-name", name, "--kubelet-port", "0",
		"--dns-port", "0", "--ingress-http-port", "0", "--ingress-https-port", "0", "--eviction-hard", EvictionHard}, extraArgs...)
	return a, a.start()
}

// start runs the agent process (its log appended to) and waits for its node to
// be Ready.
func (a *Agent) start() error {
	logf, err := os.OpenFile(a.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	a.done = make(chan error, 1)
	a.cmd = exec.Command(a.bin, a.args...)
	a.cmd.Stdout, a.cmd.Stderr = logf, logf
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	go func() { a.done <- a.cmd.Wait(); logf.Close() }()
	if err := a.cluster.WaitNodeReady(a.Name); err != nil {
		a.Stop()
		data, _ := os.ReadFile(a.LogPath)
		return fmt.Errorf("%w\nagent log:\n%s", err, data)
	}
	return nil
}

// Kill ends the agent at once (SIGKILL to its process group), as a crash would;
// its containers keep running.
func (a *Agent) Kill() {
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	a.done <- <-a.done // put the exit back, so a later Stop returns at once
}

// Restart starts a stopped or killed agent again on its data dir.
func (a *Agent) Restart() error { return a.start() }

// Stop ends the agent (its pods keep running) and Reset removes them.
func (a *Agent) Stop() {
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
		<-a.done
	}
}

// Reset removes everything the agent's node left behind.
func (a *Agent) Reset() { resetNode(a.Dir, a.Name) }

// Process is a helper process a test started (such as `skiff simulate`).
type Process struct {
	cmd  *exec.Cmd
	done chan error
}

// StartSkiff runs `skiff <args>` against the cluster, with output to logPath.
func (c *Cluster) StartSkiff(logPath string, args ...string) (*Process, error) {
	return StartSkiff(c.Kubeconfig, logPath, args...)
}

// StartSkiff runs `skiff <args>` with KUBECONFIG set to kubeconfig and output to
// logPath.
func StartSkiff(kubeconfig, logPath string, args ...string) (*Process, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p := &Process{cmd: exec.Command(bin, args...), done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() { p.done <- p.cmd.Wait(); logf.Close() }()
	return p, nil
}

// Pid is the process's pid.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Stop ends the process (SIGTERM, so that it can write out a profile).
func (p *Process) Stop() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// Kill ends the process at once (SIGKILL), as a crash would.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.done <- <-p.done // put the exit back, so a later Stop returns at once
}

// Skiff runs `skiff <args>` against the cluster and returns its output.
func (c *Cluster) Skiff(args ...string) (string, error) {
	bin, err := Binary()
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig)
	out, err := cmd.CombinedOutput()
	return string(out), err
}
