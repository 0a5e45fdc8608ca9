// Package images holds everything skiff knows about container images: the built-in OCI
// registry that `skiff server` serves, importing image archives into it, and the two
// images skiff builds itself (the pod sandbox's pause image and the toolbox test image).
//
// Nothing here reaches the internet: the images are assembled from binaries on this
// machine, and other images arrive only through Import.
package images

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// References of the images skiff builds. The registry host is a name only: every node's
// containerd maps it to the built-in registry, so it never resolves in DNS.
const (
	PauseRef   = "skiff.local/pause:1"
	ToolboxRef = "skiff.local/toolbox:1"
)

// The binaries the images are made of, as `make build` names them in bin/.
const (
	pauseBinary   = "pause"
	toolboxBinary = "toolbox"
	busyboxBinary = "busybox"
)

// epoch is the modification and creation time of everything in the built images. A fixed
// time (instead of the files' real mtimes or now) is what makes the same inputs give the
// same digest, so restarting a server does not produce "new" images nodes re-pull.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// busyboxCandidates are where a statically linked busybox is looked for, in order, after
// binDir. Debian's busybox-static installs /bin/busybox (and /usr/bin on merged-/usr).
var busyboxCandidates = []string{"/bin/busybox", "/usr/bin/busybox"}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Pause builds the pod sandbox image: the static binary binDir/pause as /pause.
func Pause(binDir string) (v1.Image, error) {
	pause, err := readStatic(filepath.Join(binDir, pauseBinary), "make build")
	if err != nil {
		return nil, err
	}
	var t tarBuilder
	t.file("pause", 0o755, pause)
	return buildImage(t, "skiff: the pod sandbox process (cmd/pause)", v1.Config{
		Entrypoint: []string{"/pause"},
		Env:        []string{"PATH=" + defaultPath},
		WorkingDir: "/",
	})
}

// Toolbox builds the test image the e2e tests run: busybox with a link for each applet in
// /bin, the toolbox program as /toolbox (and /bin/toolbox), a root and a nobody user, and
// a world-writable /tmp. Its default command is a shell, like a small distribution image.
func Toolbox(binDir string) (v1.Image, error) {
	toolbox, err := readStatic(filepath.Join(binDir, toolboxBinary), "make build")
	if err != nil {
		return nil, err
	}
	bbPath, err := findBusybox(binDir)
	if err != nil {
		return nil, err
	}
	busybox, err := readStatic(bbPath, "apt-get install busybox-static")
	if err != nil {
		return nil, err
	}
	applets, err := busyboxApplets(bbPath)
	if err != nil {
		return nil, err
	}

	var t tarBuilder
	for _, d := range []string{"bin", "dev", "etc", "proc", "root", "sys", "usr", "usr/bin", "var", "var/run"} {
		t.dir(d, 0o755)
	}
	t.dir("tmp", 0o1777)
	t.file("bin/busybox", 0o755, busybox)
	for _, a := range applets {
		if a == "wget" {
			continue // busybox-static's wget crashes; the toolbox program stands in
		}
		t.symlink("bin/"+a, "busybox")
	}
	t.symlink("bin/wget", "/toolbox")
	t.symlink("bin/curl", "/toolbox")
	t.file("toolbox", 0o755, toolbox)
	t.symlink("bin/toolbox", "/toolbox")
	t.file("etc/passwd", 0o644, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"))
	t.file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\nnobody:x:65534:\n"))
	// Go's resolver (toolbox dns-lookup) and busybox both read this; files-then-dns is
	// what pods expect so /etc/hosts entries win over cluster DNS.
	t.file("etc/nsswitch.conf", 0o644, []byte("hosts: files dns\n"))
	return buildImage(t, "skiff: busybox and the toolbox test program (cmd/toolbox)", v1.Config{
		Cmd:        []string{"/bin/sh"},
		Env:        []string{"PATH=" + defaultPath},
		WorkingDir: "/",
	})
}

// buildImage makes a single-layer linux/amd64 OCI image from t with the given config.
func buildImage(t tarBuilder, createdBy string, cfg v1.Config) (v1.Image, error) {
	layerBytes, err := t.bytes()
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("making layer: %w", err)
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: epoch}, CreatedBy: createdBy},
	})
	if err != nil {
		return nil, fmt.Errorf("appending layer: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = "amd64"
	cf.OS = "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

// tarBuilder collects the entries of a layer. Entries keep the order they were added in
// and every header field that could vary between machines is fixed, so the bytes (and
// the digest) depend only on the contents.
type tarBuilder struct {
	entries []tarEntry
}

type tarEntry struct {
	hdr  tar.Header
	data []byte
}

func (t *tarBuilder) add(hdr tar.Header, data []byte) {
	hdr.ModTime = epoch
	hdr.Format = tar.FormatPAX
	t.entries = append(t.entries, tarEntry{hdr: hdr, data: data})
}

func (t *tarBuilder) dir(name string, mode int64) {
	t.add(tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode}, nil)
}

func (t *tarBuilder) file(name string, mode int64, data []byte) {
	t.add(tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data))}, data)
}

func (t *tarBuilder) symlink(name, target string) {
	t.add(tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}, nil)
}

func (t *tarBuilder) bytes() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range t.entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			return nil, fmt.Errorf("writing tar header %s: %w", h.Name, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, fmt.Errorf("writing %s: %w", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readStatic reads an executable that will run in a container with nothing else in it,
// so it must not need a dynamic loader. remedy tells the user how to get a good one.
func readStatic(path, remedy string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s is missing: run `%s`", path, remedy)
	}
	if err != nil {
		return nil, err
	}
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s is not a Linux executable (%v): run `%s`", path, err, remedy)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s is dynamically linked and cannot run in a bare image: run `%s` (Go programs need CGO_ENABLED=0)", path, remedy)
		}
	}
	return data, nil
}

// findBusybox prefers binDir/busybox, so a machine without Debian's package can still
// build the toolbox image from a static busybox placed next to the other binaries.
func findBusybox(binDir string) (string, error) {
	candidates := append([]string{filepath.Join(binDir, busyboxBinary)}, busyboxCandidates...)
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("no busybox found (looked at %s): run `apt-get install busybox-static`", strings.Join(candidates, ", "))
}

// busyboxApplets asks busybox which applets it has; each becomes a /bin link.
func busyboxApplets(path string) ([]string, error) {
	out, err := exec.Command(path, "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("listing applets of %s: %w", path, err)
	}
	seen := map[string]bool{}
	var applets []string
	for _, a := range strings.Fields(string(out)) {
		// The busybox binary itself is a file, not a link; names with a slash would
		// escape /bin.
		if a == busyboxBinary || strings.Contains(a, "/") || seen[a] {
			continue
		}
		seen[a] = true
		applets = append(applets, a)
	}
	if len(applets) == 0 {
		return nil, fmt.Errorf("%s --list printed no applets", path)
	}
	sort.Strings(applets)
	return applets, nil
}

// FindBinDir returns the directory holding the pause and toolbox binaries: the directory
// of the running executable (how `make build` lays out bin/), else ./bin.
func FindBinDir() (string, error) {
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		if resolved, err := filepath.EvalSymlinks(exe); err == nil {
			exe = resolved
		}
		dirs = append(dirs, filepath.Dir(exe))
	}
	if abs, err := filepath.Abs("bin"); err == nil {
		dirs = append(dirs, abs)
	}
	var problems []string
	for _, d := range dirs {
		var missing []string
		for _, b := range []string{pauseBinary, toolboxBinary} {
			if _, err := os.Stat(filepath.Join(d, b)); err != nil {
				missing = append(missing, b)
			}
		}
		if len(missing) == 0 {
			return d, nil
		}
		problems = append(problems, fmt.Sprintf("%s lacks %s", d, strings.Join(missing, " and ")))
	}
	return "", fmt.Errorf("cannot find the pause and toolbox binaries (%s): run `make build`", strings.Join(problems, "; "))
}
