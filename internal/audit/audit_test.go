package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNew(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if a, err := New(Config{}); a != nil || err != nil {
		t.Fatalf("no configuration: %v %v, want off", a, err)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{PolicyFile: policy}, "needs both"},
		{Config{LogPath: filepath.Join(dir, "a.log")}, "needs both"},
		{Config{PolicyFile: bad, LogPath: filepath.Join(dir, "a.log")}, "--audit-policy-file"},
		{Config{PolicyFile: filepath.Join(dir, "missing.yaml"), LogPath: filepath.Join(dir, "a.log")}, "--audit-policy-file"},
		{Config{PolicyFile: policy, LogPath: filepath.Join(dir, "no", "such", "dir", "a.log")}, "--audit-log-path"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want an error with %q", tc.cfg, err, tc.want)
		}
	}
	a, err := New(Config{PolicyFile: policy, LogPath: filepath.Join(dir, "a.log"), MaxSize: 1, MaxBackups: 2})
	if err != nil || a == nil {
		t.Fatal(err)
	}
	if info, err := os.Stat(filepath.Join(dir, "a.log")); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("log file: %v %v", info, err)
	}
}
