package images

import (
	"archive/tar"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

var (
	buildOnce sync.Once
	builtDir  string
	buildErr  error
)

// testBinDir builds cmd/pause and cmd/toolbox the way `make build` does, once per test
// run, so the images under test contain the real programs.
func testBinDir(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Skip("/bin/busybox missing: apt-get install busybox-static")
	}
	buildOnce.Do(func() {
		builtDir, buildErr = os.MkdirTemp("", "skiff-images-bin-")
		if buildErr != nil {
			return
		}
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		for _, p := range []string{"pause", "toolbox"} {
			cmd := exec.Command(gobin, "build", "-ldflags=-s -w", "-o", filepath.Join(builtDir, p), "skiff/cmd/"+p)
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = err
				builtDir = string(out)
				return
			}
		}
	})
	if buildErr != nil {
		t.Fatalf("building the binaries: %v\n%s", buildErr, builtDir)
	}
	return builtDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtDir != "" && buildErr == nil {
		os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

func digestOf(t *testing.T, build func(string) (v1.Image, error), dir string) v1.Hash {
	t.Helper()
	img, err := build(dir)
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestBuildsAreDeterministic(t *testing.T) {
	dir := testBinDir(t)
	for name, build := range map[string]func(string) (v1.Image, error){"pause": Pause, "toolbox": Toolbox} {
		t.Run(name, func(t *testing.T) {
			first := digestOf(t, build, dir)
			// A copy of the inputs with other mtimes must still give the same image.
			other := t.TempDir()
			for _, b := range []string{pauseBinary, toolboxBinary} {
				data, err := os.ReadFile(filepath.Join(dir, b))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(other, b), data, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if second := digestOf(t, build, other); first != second {
				t.Errorf("digests differ between builds: %s and %s", first, second)
			}
		})
	}
}

func TestImageConfigs(t *testing.T) {
	dir := testBinDir(t)
	tests := []struct {
		name       string
		build      func(string) (v1.Image, error)
		entrypoint []string
		cmd        []string
	}{
		{name: "pause", build: Pause, entrypoint: []string{"/pause"}},
		{name: "toolbox", build: Toolbox, cmd: []string{"/bin/sh"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := tt.build(dir)
			if err != nil {
				t.Fatal(err)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != "linux" || cf.Architecture != "amd64" {
				t.Errorf("platform %s/%s, want linux/amd64", cf.OS, cf.Architecture)
			}
			if diff := cmp.Diff(tt.entrypoint, cf.Config.Entrypoint); diff != "" {
				t.Errorf("entrypoint (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.cmd, cf.Config.Cmd); diff != "" {
				t.Errorf("cmd (-want +got):\n%s", diff)
			}
			if len(cf.Config.Env) == 0 || !strings.HasPrefix(cf.Config.Env[0], "PATH=") {
				t.Errorf("env %q lacks PATH", cf.Config.Env)
			}
			mt, err := img.MediaType()
			if err != nil || mt != "application/vnd.oci.image.manifest.v1+json" {
				t.Errorf("media type %q, %v; want an OCI manifest", mt, err)
			}
		})
	}
}

// layerEntries reads the single layer of img into name -> header.
func layerEntries(t *testing.T, img v1.Image) map[string]*tar.Header {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers: %d, %v; want one", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	entries := map[string]*tar.Header{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		entries[strings.TrimSuffix(h.Name, "/")] = h
	}
}

func TestToolboxLayer(t *testing.T) {
	img, err := Toolbox(testBinDir(t))
	if err != nil {
		t.Fatal(err)
	}
	entries := layerEntries(t, img)
	for _, want := range []struct {
		name     string
		typ      byte
		mode     int64
		linkname string
	}{
		{name: "toolbox", typ: tar.TypeReg, mode: 0o755},
		{name: "bin/busybox", typ: tar.TypeReg, mode: 0o755},
		{name: "bin/sh", typ: tar.TypeSymlink, mode: 0o777, linkname: "busybox"},
		{name: "bin/wget", typ: tar.TypeSymlink, mode: 0o777, linkname: "/toolbox"},
		{name: "bin/curl", typ: tar.TypeSymlink, mode: 0o777, linkname: "/toolbox"},
		{name: "bin/nslookup", typ: tar.TypeSymlink, mode: 0o777, linkname: "busybox"},
		{name: "bin/toolbox", typ: tar.TypeSymlink, mode: 0o777, linkname: "/toolbox"},
		{name: "tmp", typ: tar.TypeDir, mode: 0o1777},
		{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644},
		{name: "etc/group", typ: tar.TypeReg, mode: 0o644},
	} {
		h, ok := entries[want.name]
		if !ok {
			t.Errorf("layer lacks /%s", want.name)
			continue
		}
		if h.Typeflag != want.typ || h.Mode != want.mode || h.Linkname != want.linkname {
			t.Errorf("/%s: type %c mode %o link %q; want type %c mode %o link %q",
				want.name, h.Typeflag, h.Mode, h.Linkname, want.typ, want.mode, want.linkname)
		}
		if !h.ModTime.Equal(epoch) || h.Uid != 0 || h.Gid != 0 {
			t.Errorf("/%s: mtime %v uid %d gid %d; want the fixed epoch and root", want.name, h.ModTime, h.Uid, h.Gid)
		}
	}
	if _, ok := entries["bin/busybox"]; ok && entries["bin/busybox"].Typeflag == tar.TypeSymlink {
		t.Error("bin/busybox must be the binary, not a link to itself")
	}
}

func TestPauseLayer(t *testing.T) {
	img, err := Pause(testBinDir(t))
	if err != nil {
		t.Fatal(err)
	}
	entries := layerEntries(t, img)
	if len(entries) != 1 || entries["pause"] == nil || entries["pause"].Mode != 0o755 {
		t.Errorf("pause layer entries %v, want only /pause mode 755", entries)
	}
}

func TestMissingOrBadBinaries(t *testing.T) {
	empty := t.TempDir()
	dynamic := t.TempDir()
	// Any dynamically linked program on this machine will do; /bin/ls always is one
	// on Debian.
	ls, err := os.ReadFile("/bin/ls")
	if err != nil {
		t.Skip(err)
	}
	if err := os.WriteFile(filepath.Join(dynamic, pauseBinary), ls, 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		build   func(string) (v1.Image, error)
		wantErr []string
	}{
		{name: "pause missing", dir: empty, build: Pause, wantErr: []string{filepath.Join(empty, "pause") + " is missing", "make build"}},
		{name: "toolbox missing", dir: empty, build: Toolbox, wantErr: []string{filepath.Join(empty, "toolbox") + " is missing", "make build"}},
		{name: "pause dynamic", dir: dynamic, build: Pause, wantErr: []string{"dynamically linked", "CGO_ENABLED=0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.build(tt.dir)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestFindBinDir(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	_, err := FindBinDir()
	if err == nil || !strings.Contains(err.Error(), "make build") || !strings.Contains(err.Error(), "lacks pause and toolbox") {
		t.Errorf("FindBinDir without binaries: %v; want it to name what is missing and `make build`", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{pauseBinary, toolboxBinary} {
		if err := os.WriteFile(filepath.Join(dir, "bin", b), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	got, err := FindBinDir()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.EvalSymlinks(filepath.Join(dir, "bin"))
	if g, _ := filepath.EvalSymlinks(got); g != want {
		t.Errorf("FindBinDir() = %s, want %s", got, want)
	}
}

// TestToolboxRuns unpacks the toolbox image and runs its shell and the toolbox program in
// a chroot, which catches what a listing cannot: a dynamically linked binary, links that
// point nowhere, a missing /bin/sh.
func TestToolboxRuns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chroot needs root")
	}
	img, err := Toolbox(testBinDir(t))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	layers, _ := img.Layers()
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := extract(rc, root); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("/bin/sh", "-c", "echo shell-ok; ls /tmp >/dev/null && toolbox sleep 0 && echo toolbox-ok; toolbox fail --code 3")
	cmd.Env = []string{"PATH=" + defaultPath}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("exit: %v, want exit status 3 from toolbox fail; output:\n%s", err, out)
	}
	for _, want := range []string{"shell-ok\n", "toolbox-ok\n", "exiting with code 3"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

// extract unpacks the entry kinds tarBuilder writes.
func extract(r io.Reader, root string) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(root, h.Name)
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, os.FileMode(h.Mode).Perm())
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			var data []byte
			if data, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(p, data, os.FileMode(h.Mode).Perm())
			}
		}
		if err != nil {
			return err
		}
	}
}
