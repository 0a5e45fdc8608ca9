package images

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Registry is the OCI registry built into `skiff server`. Nodes' containerd pull from it,
// `skiff image import` pushes to it.
//
// The protocol is go-containerregistry's pkg/registry. That package keeps blobs wherever
// its BlobHandler says (here: on disk) but manifests only in memory, so Registry records
// every successful manifest write itself and replays them into a fresh handler when the
// server restarts. Under dir:
//
//	blobs/sha256/<hex>      layer and config blobs (pkg/registry's disk blob handler)
//	manifests/sha256/<hex>  manifest bodies, content-addressed
//	refs.json               repository -> tag or digest -> manifest digest and media type
//
// Repositories are stored without a registry host: a pod's `image: nginx:1.25` is pulled
// by containerd, which is configured to use this registry as the mirror of every host, as
// /v2/library/nginx/manifests/1.25, and skiff.local/pause:1 as /v2/pause/manifests/1.
type Registry struct {
	dir   string
	inner http.Handler
	log   *slog.Logger

	// mu serializes manifest writes so refs.json and the in-memory manifests never
	// disagree about which write came last.
	mu   sync.Mutex
	refs map[string]map[string]manifestRef
}

type manifestRef struct {
	Digest    string          `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
}

// ImageInfo describes one tagged image in the registry.
type ImageInfo struct {
	// Repository is the path in the registry, without a host ("pause", "library/nginx").
	Repository string
	Tags       []string
	Digest     string
	MediaType  string
	// Size is the manifest plus the config and layer blobs as stored (compressed); for
	// an index, the sum over its images.
	Size int64
}

// maxManifestBytes bounds what a manifest PUT may send; the distribution spec lets
// registries refuse manifests above 4 MiB, and anything bigger here is a mistake.
const maxManifestBytes = 4 << 20

// refsFile is the registry's only mutable metadata file.
const refsFile = "refs.json"

// inProcessHost names the registry in references Push writes through the in-process
// transport; the transport never resolves it.
const inProcessHost = "skiff.local"

// NewRegistry opens (or creates) a registry stored under dir and restores the manifests
// it held when it was last running.
func NewRegistry(dir string) (*Registry, error) {
	for _, d := range []string{filepath.Join(dir, "blobs"), filepath.Join(dir, "manifests", "sha256")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("creating registry directory: %w", err)
		}
	}
	// The disk handler uploads into blobs/upload-* and renames on success; a crash
	// mid-upload leaves the temporary file behind, and nothing else would ever remove it.
	if leftovers, err := filepath.Glob(filepath.Join(dir, "blobs", "upload-*")); err == nil {
		for _, f := range leftovers {
			_ = os.Remove(f)
		}
	}
	r := &Registry{
		dir:  dir,
		log:  slog.Default().With("component", "registry"),
		refs: map[string]map[string]manifestRef{},
	}
	r.inner = newProtocolHandler(filepath.Join(dir, "blobs"), r.log)
	if err := r.restore(); err != nil {
		return nil, err
	}
	return r, nil
}

// Handler serves the distribution API under /v2/.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(r.serveHTTP)
}

func (r *Registry) serveHTTP(w http.ResponseWriter, req *http.Request) {
	repo, target, ok := manifestPath(req.URL.Path)
	if ok && (req.Method == http.MethodPut || req.Method == http.MethodDelete) {
		r.writeManifest(w, req, repo, target)
		return
	}
	r.inner.ServeHTTP(w, req)
}

// manifestPath splits /v2/<repo>/manifests/<target>.
func manifestPath(p string) (repo, target string, ok bool) {
	elems := strings.Split(strings.TrimPrefix(p, "/"), "/")
	if len(elems) < 4 || elems[0] != "v2" || elems[len(elems)-2] != "manifests" {
		return "", "", false
	}
	return strings.Join(elems[1:len(elems)-2], "/"), elems[len(elems)-1], true
}

// writeManifest passes a manifest PUT or DELETE to the protocol handler and makes the
// result durable before answering: a client told 201 can rely on the image surviving a
// restart, and a failure to persist is reported instead of being hidden.
func (r *Registry) writeManifest(w http.ResponseWriter, req *http.Request, repo, target string) {
	r.mu.Lock()
	defer r.mu.Unlock()

	var body []byte
	if req.Method == http.MethodPut {
		var err error
		body, err = io.ReadAll(io.LimitReader(req.Body, maxManifestBytes+1))
		if err != nil {
			http.Error(w, "reading manifest: "+err.Error(), http.StatusBadRequest)
			return
		}
		if len(body) > maxManifestBytes {
			http.Error(w, "manifest larger than 4 MiB", http.StatusRequestEntityTooLarge)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}

	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, req)

	var err error
	switch {
	case req.Method == http.MethodPut && rec.Code == http.StatusCreated:
		err = r.recordPut(repo, target, types.MediaType(req.Header.Get("Content-Type")), body)
	case req.Method == http.MethodDelete && rec.Code == http.StatusAccepted:
		err = r.recordDelete(repo, target)
	}
	if err != nil {
		r.log.Error("persisting manifest", "repository", repo, "reference", target, "err", err)
		http.Error(w, "persisting manifest: "+err.Error(), http.StatusInternalServerError)
		return
	}
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (r *Registry) recordPut(repo, target string, mt types.MediaType, body []byte) error {
	h, _, err := v1.SHA256(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if err := writeFileAtomic(r.manifestFile(h.String()), body); err != nil {
		return err
	}
	if r.refs[repo] == nil {
		r.refs[repo] = map[string]manifestRef{}
	}
	ref := manifestRef{Digest: h.String(), MediaType: mt}
	// The protocol handler answers for both the target and the digest; so do we.
	r.refs[repo][target] = ref
	r.refs[repo][h.String()] = ref
	return r.saveRefs()
}

func (r *Registry) recordDelete(repo, target string) error {
	delete(r.refs[repo], target)
	if len(r.refs[repo]) == 0 {
		delete(r.refs, repo)
	}
	return r.saveRefs()
}

func (r *Registry) manifestFile(digest string) string {
	return filepath.Join(r.dir, "manifests", "sha256", strings.TrimPrefix(digest, "sha256:"))
}

func (r *Registry) saveRefs() error {
	data, err := json.MarshalIndent(r.refs, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(r.dir, refsFile), data)
}

// writeFileAtomic writes through a temporary file and a rename so a crash leaves either
// the old or the new contents, never a torn file that would stop the next start.
func writeFileAtomic(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// restore loads refs.json and replays each manifest into the protocol handler.
func (r *Registry) restore() error {
	data, err := os.ReadFile(filepath.Join(r.dir, refsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var saved map[string]map[string]manifestRef
	if err := json.Unmarshal(data, &saved); err != nil {
		return fmt.Errorf("reading %s: %w (move it away to start with an empty registry)", filepath.Join(r.dir, refsFile), err)
	}
	type pending struct {
		repo, target string
		ref          manifestRef
	}
	var todo []pending
	for repo, targets := range saved {
		for target, ref := range targets {
			todo = append(todo, pending{repo, target, ref})
		}
	}
	// The protocol handler refuses an index whose images it does not hold yet, so
	// replay in passes until nothing more goes in; images always go in the first pass.
	for len(todo) > 0 {
		var retry []pending
		for _, p := range todo {
			body, err := os.ReadFile(r.manifestFile(p.ref.Digest))
			if err != nil {
				r.log.Warn("dropping manifest whose body is gone", "repository", p.repo, "reference", p.target, "err", err)
				continue
			}
			if code := r.replay(p.repo, p.target, p.ref.MediaType, body); code != http.StatusCreated {
				retry = append(retry, p)
				continue
			}
			if r.refs[p.repo] == nil {
				r.refs[p.repo] = map[string]manifestRef{}
			}
			r.refs[p.repo][p.target] = p.ref
		}
		if len(retry) == len(todo) {
			for _, p := range retry {
				r.log.Warn("dropping manifest the registry no longer accepts", "repository", p.repo, "reference", p.target)
			}
			break
		}
		todo = retry
	}
	return nil
}

func (r *Registry) replay(repo, target string, mt types.MediaType, body []byte) int {
	req := httptest.NewRequest(http.MethodPut, "/v2/"+repo+"/manifests/"+target, bytes.NewReader(body))
	req.Header.Set("Content-Type", string(mt))
	rec := httptest.NewRecorder()
	r.inner.ServeHTTP(rec, req)
	return rec.Code
}

// Push writes img under ref without going through the network. The ref's host, if any,
// is dropped (see Registry).
func (r *Registry) Push(ref string, img v1.Image) error {
	target, err := r.localRef(ref)
	if err != nil {
		return err
	}
	if err := remote.Write(target, img, remote.WithTransport(handlerTransport{r.Handler()})); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}

// localRef turns ref into the same repository path at inProcessHost.
func (r *Registry) localRef(ref string) (name.Reference, error) {
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	repo, err := name.NewRepository(inProcessHost+"/"+parsed.Context().RepositoryStr(), name.Insecure)
	if err != nil {
		return nil, err
	}
	switch p := parsed.(type) {
	case name.Digest:
		return repo.Digest(p.DigestStr()), nil
	case name.Tag:
		return repo.Tag(p.TagStr()), nil
	}
	return nil, fmt.Errorf("image reference %q is neither a tag nor a digest", ref)
}

// EnsureBuiltins builds the pause and toolbox images from the binaries in binDir and
// pushes them under their references and :latest. Their layers are deterministic, so
// doing this at every start only writes anything when the binaries changed.
func (r *Registry) EnsureBuiltins(binDir string) error {
	for _, b := range []struct {
		ref   string
		build func(string) (v1.Image, error)
	}{{PauseRef, Pause}, {ToolboxRef, Toolbox}} {
		img, err := b.build(binDir)
		if err != nil {
			return fmt.Errorf("building %s: %w", b.ref, err)
		}
		latest := b.ref[:strings.LastIndex(b.ref, ":")] + ":latest"
		for _, ref := range []string{b.ref, latest} {
			if err := r.Push(ref, img); err != nil {
				return err
			}
		}
	}
	return nil
}

// List returns the tagged images, ordered by repository. Manifests only reachable by
// digest (the per-platform images under an index) are not listed on their own.
func (r *Registry) List() ([]ImageInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []ImageInfo
	for repo, targets := range r.refs {
		byDigest := map[string]*ImageInfo{}
		for target, ref := range targets {
			if strings.HasPrefix(target, "sha256:") {
				continue
			}
			info := byDigest[ref.Digest]
			if info == nil {
				size, err := r.manifestSize(ref.Digest, 0)
				if err != nil {
					return nil, fmt.Errorf("%s@%s: %w", repo, ref.Digest, err)
				}
				info = &ImageInfo{Repository: repo, Digest: ref.Digest, MediaType: string(ref.MediaType), Size: size}
				byDigest[ref.Digest] = info
			}
			info.Tags = append(info.Tags, target)
		}
		for _, info := range byDigest {
			sort.Strings(info.Tags)
			out = append(out, *info)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Repository != out[j].Repository {
			return out[i].Repository < out[j].Repository
		}
		return out[i].Tags[0] < out[j].Tags[0]
	})
	return out, nil
}

// manifestSize adds up what pulling the manifest transfers. depth guards against a
// corrupt store; real indexes nest at most once or twice.
func (r *Registry) manifestSize(digest string, depth int) (int64, error) {
	body, err := os.ReadFile(r.manifestFile(digest))
	if err != nil {
		return 0, err
	}
	var m struct {
		Config    *v1.Descriptor  `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
		Manifests []v1.Descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return 0, err
	}
	size := int64(len(body))
	if m.Config != nil {
		size += m.Config.Size
	}
	for _, l := range m.Layers {
		size += l.Size
	}
	for _, c := range m.Manifests {
		if depth < 4 {
			if s, err := r.manifestSize(c.Digest.String(), depth+1); err == nil {
				size += s
				continue
			}
		}
		size += c.Size
	}
	return size, nil
}

// handlerTransport sends requests straight to an http.Handler, so the server can write to
// its own registry with the ordinary client code and no listening socket.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	sreq := req.Clone(req.Context())
	// Present the request as a server sees it: a path, not an absolute URL.
	sreq.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	sreq.RequestURI = req.URL.RequestURI()
	sreq.Host = req.URL.Host
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, sreq)
	if req.Body != nil {
		req.Body.Close()
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
