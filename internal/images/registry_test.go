package images

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// serve starts an HTTP server for reg and returns its host:port.
func serve(t *testing.T, reg *Registry) string {
	t.Helper()
	ts := httptest.NewServer(reg.Handler())
	t.Cleanup(ts.Close)
	return strings.TrimPrefix(ts.URL, "http://")
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func mustDigest(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// pull fetches ref from host and reads every layer, so a missing blob fails the test too.
func pull(t *testing.T, host, ref string) v1.Image {
	t.Helper()
	r, err := name.ParseReference(host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatalf("pulling %s: %v", r, err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatalf("layer of %s: %v", r, err)
		}
		rc.Close()
	}
	if _, err := img.ConfigFile(); err != nil {
		t.Fatalf("config of %s: %v", r, err)
	}
	return img
}

func TestRegistryServesPushedImagesAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	reg, err := NewRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	host := serve(t, reg)

	// One image written in-process, one pushed over HTTP as `skiff image import` does.
	local, pushed := randomImage(t), randomImage(t)
	if err := reg.Push("skiff.local/demo:1", local); err != nil {
		t.Fatal(err)
	}
	target, err := name.ParseReference(host+"/library/nginx:1.25", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(target, pushed); err != nil {
		t.Fatal(err)
	}

	want := map[string]v1.Hash{"demo:1": mustDigest(t, local), "library/nginx:1.25": mustDigest(t, pushed)}
	check := func(host string) {
		t.Helper()
		for ref, d := range want {
			if got := mustDigest(t, pull(t, host, ref)); got != d {
				t.Errorf("%s: digest %s, want %s", ref, got, d)
			}
		}
	}
	check(host)

	reopened, err := NewRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	check(serve(t, reopened))
}

func TestRegistryDeleteIsPersisted(t *testing.T) {
	dir := t.TempDir()
	reg, err := NewRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	kept := randomImage(t)
	if err := reg.Push("skiff.local/demo:1", randomImage(t)); err != nil {
		t.Fatal(err)
	}
	if err := reg.Push("skiff.local/demo:2", kept); err != nil {
		t.Fatal(err)
	}
	host := serve(t, reg)
	req, _ := http.NewRequest(http.MethodDelete, "http://"+host+"/v2/demo/manifests/1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("DELETE: %s", resp.Status)
	}
	reopened, err := NewRegistry(dir)
	if err != nil {
		t.Fatal(err)
	}
	host = serve(t, reopened)
	if got, want := mustDigest(t, pull(t, host, "demo:2")), mustDigest(t, kept); got != want {
		t.Errorf("demo:2 after restart: %s, want %s", got, want)
	}
	resp, err = http.Get("http://" + host + "/v2/demo/manifests/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("deleted tag after restart: %s, want 404", resp.Status)
	}
}

func TestRegistryList(t *testing.T) {
	reg, err := NewRegistry(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, b := randomImage(t), randomImage(t)
	for ref, img := range map[string]v1.Image{
		"skiff.local/demo:1":      a,
		"skiff.local/demo:latest": a,
		"skiff.local/demo:2":      b,
		"nginx:1.25":              b,
	} {
		if err := reg.Push(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	size := func(img v1.Image) int64 {
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := img.RawManifest()
		s := int64(len(raw)) + m.Config.Size
		for _, l := range m.Layers {
			s += l.Size
		}
		return s
	}
	got, err := reg.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []ImageInfo{
		{Repository: "demo", Tags: []string{"1", "latest"}, Digest: mustDigest(t, a).String(), Size: size(a)},
		{Repository: "demo", Tags: []string{"2"}, Digest: mustDigest(t, b).String(), Size: size(b)},
		{Repository: "library/nginx", Tags: []string{"1.25"}, Digest: mustDigest(t, b).String(), Size: size(b)},
	}
	for i := range want {
		mt, _ := a.MediaType()
		want[i].MediaType = string(mt)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
}

func TestEnsureBuiltins(t *testing.T) {
	binDir := testBinDir(t)
	reg, err := NewRegistry(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.EnsureBuiltins(binDir); err != nil {
		t.Fatal(err)
	}
	// A second start pushes the same digests again.
	if err := reg.EnsureBuiltins(binDir); err != nil {
		t.Fatal(err)
	}
	list, err := reg.List()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range list {
		got = append(got, i.Repository+":"+strings.Join(i.Tags, ","))
	}
	if diff := cmp.Diff([]string{"pause:1,latest", "toolbox:1,latest"}, got); diff != "" {
		t.Errorf("images (-want +got):\n%s", diff)
	}
	host := serve(t, reg)
	pause, err := Pause(binDir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustDigest(t, pull(t, host, "pause:1")), mustDigest(t, pause); got != want {
		t.Errorf("served pause digest %s, built %s", got, want)
	}
}

func TestRegistryRejectsCorruptRefs(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewRegistry(dir); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(dir+"/"+refsFile, []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	_, err := NewRegistry(dir)
	if err == nil || !strings.Contains(err.Error(), refsFile) {
		t.Errorf("NewRegistry over a corrupt %s: %v; want an error naming it", refsFile, err)
	}
}
