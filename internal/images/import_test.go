package images

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// collect is a push func that remembers what it was given.
type collect map[string]v1.Image

func (c collect) push(ref string, img v1.Image) error {
	// Read everything now, as a real push would, so lazily-read archives are exercised
	// before the importer cleans up.
	if _, err := img.Manifest(); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			return err
		}
		rc.Close()
	}
	c[ref] = img
	return nil
}

// sameContent compares what survives a format change: the config and the layers'
// uncompressed contents (docker-save tarballs may re-compress layers).
func sameContent(t *testing.T, got, want v1.Image) {
	t.Helper()
	gc, err := got.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	wc, _ := want.ConfigName()
	if gc != wc {
		t.Errorf("config %s, want %s", gc, wc)
	}
	gl, _ := got.Layers()
	wl, _ := want.Layers()
	if len(gl) != len(wl) {
		t.Fatalf("%d layers, want %d", len(gl), len(wl))
	}
	for i := range gl {
		g, _ := gl[i].DiffID()
		w, _ := wl[i].DiffID()
		if g != w {
			t.Errorf("layer %d diff id %s, want %s", i, g, w)
		}
	}
}

func writeDockerSave(t *testing.T, images map[string]v1.Image) string {
	t.Helper()
	refs := map[name.Reference]v1.Image{}
	for r, img := range images {
		tag, err := name.NewTag(r)
		if err != nil {
			t.Fatal(err)
		}
		refs[tag] = img
	}
	file := filepath.Join(t.TempDir(), "images.tar")
	if err := tarball.MultiRefWriteToFile(file, refs); err != nil {
		t.Fatal(err)
	}
	return file
}

func TestImportDockerSave(t *testing.T) {
	nginx, app := randomImage(t), randomImage(t)
	file := writeDockerSave(t, map[string]v1.Image{
		"nginx:1.25":                   nginx,
		"example.test/team/app:v2":     app,
		"example.test/team/app:stable": app,
	})
	got := collect{}
	refs, err := Import(context.Background(), file, got.push)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"nginx:1.25", "example.test/team/app:v2", "example.test/team/app:stable"}
	if diff := cmp.Diff(want, refs, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("refs (-want +got):\n%s", diff)
	}
	sameContent(t, got["nginx:1.25"], nginx)
	sameContent(t, got["example.test/team/app:v2"], app)
}

// writeOCIArchive writes an OCI layout holding the given index entries and tars it.
func writeOCIArchive(t *testing.T, add func(p layout.Path)) string {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	add(p)
	file := filepath.Join(t.TempDir(), "oci.tar")
	if err := tarDir(dir, file); err != nil {
		t.Fatal(err)
	}
	return file
}

func tarDir(dir, file string) error {
	out, err := os.Create(file)
	if err != nil {
		return err
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		return err
	}
	return tw.Close()
}

func TestImportOCIArchive(t *testing.T) {
	byContainerd, byRefName := randomImage(t), randomImage(t)
	mine, other := randomImage(t), randomImage(t)
	otherArch := "arm64"
	if runtime.GOARCH == "arm64" {
		otherArch = "amd64"
	}
	multi := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch}}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	file := writeOCIArchive(t, func(p layout.Path) {
		// As containerd and Docker 25+ write it: full name, and only the tag in ref.name.
		if err := p.AppendImage(byContainerd, layout.WithAnnotations(map[string]string{
			"io.containerd.image.name":          "example.test/library/redis:7",
			"org.opencontainers.image.ref.name": "7",
		})); err != nil {
			t.Fatal(err)
		}
		// As other tools write it: the full reference in ref.name.
		if err := p.AppendImage(byRefName, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": "example.test/tools/curl:8",
		})); err != nil {
			t.Fatal(err)
		}
		if err := p.AppendIndex(multi, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": "example.test/multi:1",
		})); err != nil {
			t.Fatal(err)
		}
	})
	got := collect{}
	refs, err := Import(context.Background(), file, got.push)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"example.test/library/redis:7", "example.test/tools/curl:8", "example.test/multi:1"}
	if diff := cmp.Diff(want, refs); diff != "" {
		t.Errorf("refs (-want +got):\n%s", diff)
	}
	for ref, img := range map[string]v1.Image{want[0]: byContainerd, want[1]: byRefName, want[2]: mine} {
		if g, w := mustDigest(t, got[ref]), mustDigest(t, img); g != w {
			t.Errorf("%s: digest %s, want %s (the image as written)", ref, g, w)
		}
	}
}

func TestImportErrors(t *testing.T) {
	tagOnly := writeOCIArchive(t, func(p layout.Path) {
		if err := p.AppendImage(randomImage(t), layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": "1.0",
		})); err != nil {
			t.Fatal(err)
		}
	})
	unnamed := writeOCIArchive(t, func(p layout.Path) {
		if err := p.AppendImage(randomImage(t)); err != nil {
			t.Fatal(err)
		}
	})
	notTar := filepath.Join(t.TempDir(), "junk.tar")
	if err := os.WriteFile(notTar, []byte(strings.Repeat("not a tar file ", 100)), 0o644); err != nil {
		t.Fatal(err)
	}
	emptyTar := filepath.Join(t.TempDir(), "empty.tar")
	if err := tarDir(t.TempDir(), emptyTar); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file, wantErr string
	}{
		{name: "tag only", file: tagOnly, wantErr: "tag without a repository"},
		{name: "no name", file: unnamed, wantErr: "no org.opencontainers.image.ref.name annotation"},
		{name: "not a tar", file: notTar, wantErr: "as a tar archive"},
		{name: "neither format", file: emptyTar, wantErr: "neither a `docker save` archive"},
		{name: "missing file", file: filepath.Join(t.TempDir(), "nope.tar"), wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Import(context.Background(), tt.file, collect{}.push)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Import: %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestImportToRunningRegistry(t *testing.T) {
	reg, err := NewRegistry(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	host := serve(t, reg)
	nginx := randomImage(t)
	file := writeDockerSave(t, map[string]v1.Image{"nginx:1.25": nginx})
	refs, err := ImportTo(context.Background(), file, "http://"+host, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"nginx:1.25"}, refs); diff != "" {
		t.Errorf("refs (-want +got):\n%s", diff)
	}
	// What a node pulls for `image: nginx:1.25` through its mirror.
	sameContent(t, pull(t, host, "library/nginx:1.25"), nginx)

	if _, err := ImportTo(context.Background(), file, "ftp://"+host, nil); err == nil {
		t.Error("ImportTo accepted an ftp:// URL")
	}
}

func TestRegistryRestoresIndexes(t *testing.T) {
	dir := t.TempDir()
	reg, err := NewRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := random.Index(1024, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(serve(t, reg)+"/multi:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	reopened, err := NewRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ = name.ParseReference(serve(t, reopened)+"/multi:1", name.Insecure)
	got, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("index after restart: %v", err)
	}
	gd, _ := got.Digest()
	wd, _ := idx.Digest()
	if gd != wd {
		t.Errorf("index digest %s after restart, want %s", gd, wd)
	}
}
