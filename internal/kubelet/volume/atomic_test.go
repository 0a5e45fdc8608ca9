package volume

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		target, _ := os.Readlink(filepath.Join(dir, e.Name()))
		out[e.Name()] = target
	}
	return out
}

func payloadDirs(t *testing.T, dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "..") {
			out = append(out, e.Name())
		}
	}
	return out
}

func TestWriteAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "vol")
	first := map[string]File{"greeting": {[]byte("hello"), 0o644}, "conf/app.yaml": {[]byte("a: 1"), 0o400}}
	changed, err := WriteAtomic(dir, first)
	if err != nil || !changed {
		t.Fatalf("first write: changed=%v err=%v", changed, err)
	}
	if got := readTree(t, dir); got["greeting"] != "..data/greeting" || got["conf"] != "..data/conf" || len(got) != 2 {
		t.Errorf("visible links = %v", got)
	}
	data, err := os.ReadFile(filepath.Join(dir, "conf", "app.yaml"))
	if err != nil || string(data) != "a: 1" {
		t.Errorf("conf/app.yaml = %q, %v", data, err)
	}
	if info, _ := os.Stat(filepath.Join(dir, "conf", "app.yaml")); info.Mode().Perm() != 0o400 {
		t.Errorf("mode = %o, want 400", info.Mode().Perm())
	}
	old, _ := os.Readlink(filepath.Join(dir, dataLink))

	if changed, err := WriteAtomic(dir, first); err != nil || changed {
		t.Errorf("unchanged payload: changed=%v err=%v", changed, err)
	}

	second := map[string]File{"greeting": {[]byte("bonjour"), 0o644}}
	if changed, err := WriteAtomic(dir, second); err != nil || !changed {
		t.Fatalf("update: changed=%v err=%v", changed, err)
	}
	cur, _ := os.Readlink(filepath.Join(dir, dataLink))
	if cur == old {
		t.Errorf("..data still points at %s", old)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "greeting")); string(data) != "bonjour" {
		t.Errorf("greeting after update = %q", data)
	}
	if got := readTree(t, dir); len(got) != 1 {
		t.Errorf("the removed key's link stayed: %v", got)
	}
	if dirs := payloadDirs(t, dir); !slices.Equal(dirs, []string{cur}) {
		t.Errorf("payload dirs = %v, want only %s", dirs, cur)
	}
}

func TestWriteAtomicRefusesEscapes(t *testing.T) {
	for _, p := range []string{"../x", "/etc/passwd", "a/../../b", "..data", ""} {
		if _, err := WriteAtomic(t.TempDir(), map[string]File{p: {Data: []byte("x"), Mode: 0o644}}); err == nil {
			t.Errorf("path %q was accepted", p)
		}
	}
}
