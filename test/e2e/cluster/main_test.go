// Package cluster_test drives the scheduler and the controllers of a real `skiff
// server` with kubectl, over nodes that `skiff simulate` registers (no containers:
// simulated pods turn Running and Ready at once).
package cluster_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"skiff/test/e2e/framework"
)

var (
	cluster *framework.Cluster
	dir     string
)

func TestMain(m *testing.M) {
	if _, err := os.Stat(framework.Kubectl); err != nil {
		if framework.InCI() {
			fmt.Fprintln(os.Stderr, "e2e cluster: /usr/bin/kubectl is missing")
			os.Exit(1)
		}
		os.Exit(0)
	}
	var err error
	if dir, err = os.MkdirTemp("", "skiff-e2e-cluster-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster, err = framework.StartServer(dir, "--disable-agent")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e cluster: start server:", err)
		os.Exit(1)
	}
	// Three plain workers, one labelled for the affinity examples and tainted for the
	// toleration example: the seeds' scheduling examples need both.
	sims := [][]string{
		{"--nodes", "3", "--name-prefix", "worker-", "--cpu", "4", "--memory", "8Gi", "--labels", "disktype=ssd", "--pod-cidr", "10.64.0.0/16"},
		{"--nodes", "1", "--name-prefix", "special-", "--cpu", "4", "--memory", "8Gi", "--labels", "example=true",
			"--taints", "example-key=true:NoSchedule", "--pod-cidr", "10.65.0.0/16"},
	}
	var procs []*framework.Process
	for i, args := range sims {
		args = append(args, "--volume-dir", filepath.Join(dir, "volumes"))
		p, err := cluster.StartSkiff(filepath.Join(dir, fmt.Sprintf("simulate-%d.log", i)), append([]string{"simulate"}, args...)...)
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e cluster: simulate:", err)
			os.Exit(1)
		}
		procs = append(procs, p)
	}
	for _, n := range []string{"worker-0", "worker-1", "worker-2", "special-0"} {
		if err := cluster.WaitNodeReady(n); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	for _, p := range procs {
		p.Stop()
	}
	cluster.Stop()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "e2e cluster: logs kept in %s\n", dir)
	}
	os.Exit(code)
}
