package images

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ErrNotInRegistry is why a pull cannot succeed: the cluster registry, which serves
// every registry host, does not hold the image.
var ErrNotInRegistry = errors.New("image is not in the cluster's registry")

// mirrored is ref as the cluster registry at host serves it: the repository path is
// kept and the registry host replaced (the rule Registry.Push also follows).
func mirrored(host, ref string, opts ...name.Option) (name.Reference, error) {
	parsed, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	repo, err := name.NewRepository(host+"/"+parsed.Context().RepositoryStr(), opts...)
	if err != nil {
		return nil, err
	}
	if d, ok := parsed.(name.Digest); ok {
		return repo.Digest(d.DigestStr()), nil
	}
	return repo.Tag(parsed.Identifier()), nil
}

// PullCheck returns a check to run before each pull through a containerd whose only
// mirror is the cluster registry at registryURL. containerd falls back to an image's
// own registry host when the mirror lacks it, so a missing image would be looked up in
// the machine's DNS and reported as "no such host"; the check says instead that the
// image is not in the registry and how to put it there. It lets the pull go ahead when
// the registry cannot be asked, so containerd reports its own error.
func PullCheck(registryURL string, tlsConfig *tls.Config) (func(ctx context.Context, image string) error, error) {
	u, err := url.Parse(registryURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("registry URL %q: want https://host:port", registryURL)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConfig
	return func(ctx context.Context, image string) error {
		ref, err := mirrored(u.Host, image)
		if err != nil {
			return fmt.Errorf("invalid image reference %q: %v", image, err)
		}
		_, err = remote.Head(ref, remote.WithContext(ctx), remote.WithTransport(tr))
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %s (add it with `skiff image import ARCHIVE`; `skiff image ls` lists what is there)", ErrNotInRegistry, image)
		}
		return nil
	}, nil
}
