package agent

import (
	"os"
	"path/filepath"
	"testing"
)

// TestResetDir: `agent reset --data-dir` accepts a server's data dir and resets the
// server's own node (agent/ there); an agent's own dir, or a plain dir that happens
// to have an agent/ subdirectory, is taken as given.
func TestResetDir(t *testing.T) {
	mk := func(t *testing.T, paths ...string) string {
		dir := t.TempDir()
		for _, p := range paths {
			if filepath.Ext(p) != "" {
				if err := os.WriteFile(filepath.Join(dir, p), nil, 0o600); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := os.MkdirAll(filepath.Join(dir, p), 0o700); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	tests := []struct {
		name      string
		paths     []string
		wantAgent bool
	}{
		{"server data dir", []string{"etcd", "agent/pki"}, true},
		{"server data dir with an external etcd", []string{"admin.kubeconfig", "agent"}, true},
		{"agent data dir", []string{"pki", "containerd", "kubelet"}, false},
		{"unrelated agent subdirectory", []string{"agent"}, false},
		{"server without a local node", []string{"etcd"}, false},
	}
	for _, tt := range tests {
		dir := mk(t, tt.paths...)
		want := dir
		if tt.wantAgent {
			want = filepath.Join(dir, "agent")
		}
		if got := resetDir(dir); got != want {
			t.Errorf("%s: resetDir = %s, want %s", tt.name, got, want)
		}
	}
}

// TestResetTargetFindsTheNodeName: the name the agent recorded is used unless one
// is given (the server's node is usually not named after the host).
func TestResetTargetFindsTheNodeName(t *testing.T) {
	dir := t.TempDir()
	for _, p := range []string{"etcd", "agent"} {
		if err := os.Mkdir(filepath.Join(dir, p), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "agent", nodeNameFile), []byte("cp-1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := resetTarget(Config{DataDir: dir}); got.NodeName != "cp-1" || got.DataDir != filepath.Join(dir, "agent") {
		t.Errorf("resetTarget = %s in %s, want cp-1 in agent/", got.NodeName, got.DataDir)
	}
	if got := resetTarget(Config{DataDir: dir, NodeName: "other"}); got.NodeName != "other" {
		t.Errorf("a given name was replaced by %s", got.NodeName)
	}
}
