package volume

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File is one file of a projected volume (configMap, secret, downwardAPI, projected).
type File struct {
	Data []byte
	Mode fs.FileMode
}

// dataLink is the symlink that points at the current payload directory. Every path
// the container sees goes through it, so swapping it with one rename switches all
// files at once: a reader never sees half an update.
const dataLink = "..data"

// WriteAtomic makes dir hold exactly files, as Kubernetes' atomic writer does:
//
//	dir/..2026_11_23_17_20_00.123  the payload, a fresh directory per change
//	dir/..data -> ..2026_...        swapped with one rename(2)
//	dir/<name> -> ..data/<name>    one link per top-level name
//
// It reports whether anything changed; an unchanged payload writes nothing.
func WriteAtomic(dir string, files map[string]File) (bool, error) {
	for p := range files {
		if err := validPath(p); err != nil {
			return false, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, err
	}
	old, _ := os.Readlink(filepath.Join(dir, dataLink))
	if old != "" && sameFiles(filepath.Join(dir, old), files) {
		return false, nil
	}
	ts, err := os.MkdirTemp(dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return false, err
	}
	if err := os.Chmod(ts, 0o755); err != nil {
		return false, err
	}
	if err := writePayload(ts, files); err != nil {
		_ = os.RemoveAll(ts)
		return false, err
	}
	tmp := filepath.Join(dir, "..data_tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		_ = os.RemoveAll(ts)
		return false, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, dataLink)); err != nil {
		_ = os.RemoveAll(ts)
		return false, err
	}
	if err := syncLinks(dir, files); err != nil {
		return true, err
	}
	if old != "" && old != filepath.Base(ts) {
		_ = os.RemoveAll(filepath.Join(dir, old))
	}
	return true, nil
}

// validPath refuses paths that would leave the volume: absolute, "..", or names that
// collide with the writer's own "..data" entries.
func validPath(p string) error {
	if p == "" || filepath.IsAbs(p) {
		return fmt.Errorf("invalid path %q: must be relative and not empty", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." || strings.HasPrefix(part, "..") {
			return fmt.Errorf("invalid path %q: must not contain '..'", p)
		}
	}
	return nil
}

func writePayload(dir string, files map[string]File) error {
	for _, p := range slices.Sorted(maps.Keys(files)) {
		f := files[p]
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, f.Data, 0o600); err != nil {
			return err
		}
		// Chmod after writing: the umask must not narrow the mode the pod asked for.
		if err := os.Chmod(full, f.Mode.Perm()); err != nil {
			return err
		}
	}
	return nil
}

// sameFiles reports whether the payload directory already holds exactly files.
func sameFiles(dir string, files map[string]File) bool {
	n := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		want, ok := files[rel]
		if !ok {
			return errors.New("extra file")
		}
		info, err := d.Info()
		if err != nil || info.Mode().Perm() != want.Mode.Perm() {
			return errors.New("mode differs")
		}
		data, err := os.ReadFile(p)
		if err != nil || !bytes.Equal(data, want.Data) {
			return errors.New("content differs")
		}
		n++
		return nil
	})
	return err == nil && n == len(files)
}

// syncLinks points each top-level name at ..data and removes links of names the
// payload no longer has.
func syncLinks(dir string, files map[string]File) error {
	want := map[string]bool{}
	for p := range files {
		want[strings.SplitN(p, "/", 2)[0]] = true
	}
	for name := range want {
		link := filepath.Join(dir, name)
		target := filepath.Join(dataLink, name)
		if cur, err := os.Readlink(link); err == nil && cur == target {
			continue
		}
		_ = os.Remove(link)
		if err := os.Symlink(target, link); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") || want[e.Name()] {
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return nil
}
