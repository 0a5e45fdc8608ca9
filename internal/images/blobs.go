package images

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// newProtocolHandler is go-containerregistry's registry with blobs on disk under dir and
// its per-request log lines sent to slog at debug level (containerd's pulls would
// otherwise flood the server's log).
func newProtocolHandler(dir string, log *slog.Logger) http.Handler {
	return registry.New(
		registry.WithBlobHandler(diskBlobs{dir: dir, BlobHandler: registry.NewDiskBlobHandler(dir)}),
		registry.Logger(slog.NewLogLogger(log.Handler(), slog.LevelDebug)),
	)
}

// diskBlobs is pkg/registry's disk blob handler with a cheaper Stat. The stock Stat
// re-hashes the whole blob, and the protocol handler calls it before every blob GET and
// HEAD, so each layer pull would read the layer twice. A blob only reaches its final
// name after the protocol handler verified its digest during upload (the disk handler
// writes a temporary file and renames it), so the file's size is enough.
type diskBlobs struct {
	dir string
	registry.BlobHandler
}

func (d diskBlobs) path(h v1.Hash) string { return filepath.Join(d.dir, h.Algorithm, h.Hex) }

func (d diskBlobs) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	fi, err := os.Stat(d.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return 0, registry.ErrNotFound
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

func (d diskBlobs) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	f, err := os.Open(d.path(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, registry.ErrNotFound
	}
	return f, err
}

// Put forwards to the disk handler. A failed upload leaves its temporary file behind;
// NewRegistry removes those at the next start, when no upload can be in flight.
func (d diskBlobs) Put(ctx context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	put, ok := d.BlobHandler.(registry.BlobPutHandler)
	if !ok {
		return errors.New("blob store is read-only")
	}
	return put.Put(ctx, repo, h, rc)
}

func (d diskBlobs) Delete(ctx context.Context, repo string, h v1.Hash) error {
	del, ok := d.BlobHandler.(registry.BlobDeleteHandler)
	if !ok {
		return errors.New("blob store is read-only")
	}
	return del.Delete(ctx, repo, h)
}
