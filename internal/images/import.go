package images

import (
	"archive/tar"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Annotations that name an image in an OCI layout. containerd (and Docker 25+, whose
// `docker save` writes an OCI layout too) put the full reference in the first and only
// the tag in the second; other tools put the full reference in the second.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationRefName        = "org.opencontainers.image.ref.name"
)

// Import reads an image archive and hands each image in it to push, returning the
// references pushed. Two formats are accepted:
//
//   - a `docker save` tar (manifest.json): one image per entry of RepoTags;
//   - an OCI archive (a tar of an OCI image layout: oci-layout, index.json, blobs/): one
//     image per index entry named by an io.containerd.image.name or a full
//     org.opencontainers.image.ref.name annotation. An entry that is a multi-platform
//     index contributes its linux image for this machine's architecture, since archives
//     usually carry only that platform's blobs.
//
// Naming rule: an image keeps the reference it was saved under ("nginx:1.25" stays
// "nginx:1.25"). The registry stores repositories without their host, and nodes use it
// as the mirror of every registry host, so a pod that says `image: nginx:1.25` (that is,
// library/nginx:1.25 on the default registry) pulls exactly what was imported, with no
// rewriting of pod specs. If a file holds both manifest.json and index.json,
// manifest.json wins.
func Import(ctx context.Context, file string, push func(ref string, img v1.Image) error) ([]string, error) {
	names, err := tarNames(file)
	if err != nil {
		return nil, err
	}
	switch {
	case names["manifest.json"]:
		return importDockerSave(ctx, file, push)
	case names["index.json"]:
		return importOCIArchive(ctx, file, push)
	}
	return nil, fmt.Errorf("%s is neither a `docker save` archive (no manifest.json) nor an OCI archive (no index.json)", file)
}

// ImportTo imports file into the registry at registryURL (http:// or https://host:port)
// over the network; it is what `skiff image import` does against a running server.
// tlsConfig may be nil for the system's defaults.
func ImportTo(ctx context.Context, file, registryURL string, tlsConfig *tls.Config) ([]string, error) {
	u, err := url.Parse(registryURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("registry URL %q: want http://host:port or https://host:port", registryURL)
	}
	var opts []name.Option
	if u.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	return Import(ctx, file, func(ref string, img v1.Image) error {
		target, err := mirrored(u.Host, ref, opts...)
		if err != nil {
			return err
		}
		return remote.Write(target, img, remote.WithContext(ctx), remote.WithTransport(transport))
	})
}

// tarNames lists the regular files at the top of an archive's name space.
func tarNames(file string) (map[string]bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names := map[string]bool{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading %s as a tar archive: %w (compressed archives must be decompressed first)", file, err)
		}
		names[filepath.Clean(h.Name)] = true
	}
}

func importDockerSave(ctx context.Context, file string, push func(string, v1.Image) error) ([]string, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(file) }
	manifest, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("reading manifest.json of %s: %w", file, err)
	}
	var refs []string
	for i, desc := range manifest {
		if len(desc.RepoTags) == 0 {
			return refs, fmt.Errorf("image %d in %s (config %s) has no name: save it by name, e.g. `docker save nginx:1.25`", i, file, desc.Config)
		}
		for _, ref := range desc.RepoTags {
			if err := ctx.Err(); err != nil {
				return refs, err
			}
			tag, err := name.NewTag(ref)
			if err != nil {
				return refs, fmt.Errorf("image name %q in %s: %w", ref, file, err)
			}
			img, err := tarball.Image(opener, &tag)
			if err != nil {
				return refs, fmt.Errorf("reading %s from %s: %w", ref, file, err)
			}
			if err := push(ref, img); err != nil {
				return refs, fmt.Errorf("storing %s: %w", ref, err)
			}
			refs = append(refs, ref)
		}
	}
	return refs, nil
}

func importOCIArchive(ctx context.Context, file string, push func(string, v1.Image) error) ([]string, error) {
	// pkg/v1/layout reads a directory, so the archive is unpacked first.
	dir, err := os.MkdirTemp("", "skiff-import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := untar(file, dir); err != nil {
		return nil, err
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the OCI layout in %s: %w", file, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index.json of %s: %w", file, err)
	}
	var refs []string
	for _, desc := range im.Manifests {
		if err := ctx.Err(); err != nil {
			return refs, err
		}
		ref, err := ociRefName(desc)
		if err != nil {
			return refs, fmt.Errorf("%s: %w", file, err)
		}
		img, err := ociImage(idx, desc)
		if err != nil {
			return refs, fmt.Errorf("reading %s from %s: %w", ref, file, err)
		}
		if err := push(ref, img); err != nil {
			return refs, fmt.Errorf("storing %s: %w", ref, err)
		}
		refs = append(refs, ref)
	}
	if len(refs) == 0 {
		return nil, fmt.Errorf("%s holds no images (index.json lists none)", file)
	}
	return refs, nil
}

// ociRefName finds the full reference an index entry was saved under. A bare tag ("1.25")
// is not enough: there is no repository to store it in.
func ociRefName(desc v1.Descriptor) (string, error) {
	if n := desc.Annotations[annotationContainerdName]; n != "" {
		return n, nil
	}
	n := desc.Annotations[annotationRefName]
	if n == "" {
		return "", fmt.Errorf("image %s has no %s annotation, so it has no name to store it under", desc.Digest, annotationRefName)
	}
	if !strings.ContainsAny(n, "/:@") {
		return "", fmt.Errorf("image %s is named only %q (a tag without a repository): export it with its full name", desc.Digest, n)
	}
	if _, err := name.ParseReference(n); err != nil {
		return "", fmt.Errorf("image %s: name %q: %w", desc.Digest, n, err)
	}
	return n, nil
}

// ociImage returns the image an index entry denotes, picking this machine's platform
// from a nested index.
func ociImage(idx v1.ImageIndex, desc v1.Descriptor) (v1.Image, error) {
	if desc.MediaType.IsImage() {
		return idx.Image(desc.Digest)
	}
	if !desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("entry %s has media type %s, which is neither an image nor an index", desc.Digest, desc.MediaType)
	}
	child, err := idx.ImageIndex(desc.Digest)
	if err != nil {
		return nil, err
	}
	cm, err := child.IndexManifest()
	if err != nil {
		return nil, err
	}
	want := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	var candidates []v1.Descriptor
	for _, m := range cm.Manifests {
		if !m.MediaType.IsImage() {
			continue
		}
		if m.Platform == nil || m.Platform.Satisfies(want) {
			candidates = append(candidates, m)
		}
	}
	for _, m := range candidates {
		img, err := child.Image(m.Digest)
		if err != nil {
			continue
		}
		// Only accept an image whose blobs the archive actually carries.
		if _, err := img.ConfigFile(); err == nil {
			return img, nil
		}
	}
	return nil, fmt.Errorf("index %s has no %s/%s image in the archive", desc.Digest, want.OS, want.Architecture)
}

// untar unpacks regular files and directories of file into dir, refusing names that
// would land outside it. Layouts contain nothing else.
func untar(file, dir string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading %s: %w", file, err)
		}
		rel := filepath.Clean(h.Name)
		if !filepath.IsLocal(rel) {
			return fmt.Errorf("%s: entry %q points outside the archive", file, h.Name)
		}
		target := filepath.Join(dir, rel)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := writeEntry(target, tr); err != nil {
				return err
			}
		}
	}
}

func writeEntry(target string, r io.Reader) error {
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	out, err := os.Create(target)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	return errors.Join(err, out.Close())
}
