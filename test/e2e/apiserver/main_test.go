// Package apiserver_test drives a real `skiff server` (control plane only) with the
// real kubectl, the way a user would.
package apiserver_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"skiff/test/e2e/framework"
)

var cluster *framework.Cluster

func TestMain(m *testing.M) {
	if _, err := os.Stat(framework.Kubectl); err != nil {
		if framework.InCI() {
			fmt.Fprintln(os.Stderr, "e2e: /usr/bin/kubectl is missing")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "e2e: skipping, /usr/bin/kubectl is missing")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "skiff-e2e-apiserver-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	policy, err := writeAuditPolicy(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	auditLog = filepath.Join(dir, "audit.log")
	cluster, err = framework.StartServer(dir, "--disable-agent", "--audit-policy-file", policy, "--audit-log-path", auditLog, "--audit-log-maxsize", "50")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: start server:", err)
		os.Exit(1)
	}
	code := m.Run()
	cluster.Stop()
	if code == 0 {
		os.RemoveAll(dir)
	} else {
		fmt.Fprintf(os.Stderr, "e2e: server log kept in %s\n", cluster.LogPath)
	}
	os.Exit(code)
}
