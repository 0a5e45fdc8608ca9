package volume

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestSetOwnershipGivesFilesToTheGroup(t *testing.T) {
	dir := t.TempDir()
	if _, err := WriteAtomic(dir, map[string]File{"a": {Data: []byte("x"), Mode: 0o600}, "sub/b": {Data: []byte("y"), Mode: 0o644}}); err != nil {
		t.Fatal(err)
	}
	const gid = 4321
	if err := setOwnership(dir, gid, true); err != nil {
		t.Fatalf("set ownership (the node agent runs as root): %v", err)
	}
	for _, name := range []string{"a", "sub/b"} {
		info, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if g := info.Sys().(*syscall.Stat_t).Gid; g != gid {
			t.Errorf("%s: group %d, want %d", name, g, gid)
		}
		if info.Mode().Perm()&0o040 == 0 || info.Mode().Perm()&0o020 != 0 {
			t.Errorf("%s: mode %v, want group-readable, not group-writable", name, info.Mode())
		}
	}
	sub, err := os.Stat(filepath.Join(dir, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	if sub.Mode()&fs.ModeSetgid == 0 || sub.Mode().Perm()&0o050 != 0o050 {
		t.Errorf("sub: mode %v, want setgid and group r-x", sub.Mode())
	}
}
