package auth

import (
	"context"
	"crypto/subtle"
	"regexp"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
)

// bootstrapToken is the shape of a join token: a public 6-character id and a
// 16-character secret.
var bootstrapToken = regexp.MustCompile(`^([a-z0-9]{6})\.([a-z0-9]{16})$`)

// BootstrapTokens authenticates join tokens stored as Kubernetes bootstrap-token
// Secrets (kube-system/bootstrap-token-<id>, type bootstrap.kubernetes.io/token): an
// expired, deleted or non-authentication token is refused, so tokens can be listed,
// revoked and left to expire.
type BootstrapTokens struct {
	// Secret reads kube-system/<name> (from the API server's cache).
	Secret func(name string) (*corev1.Secret, bool)
	Now    func() time.Time
}

// AuthenticateToken implements TokenAuthenticator: the user is system:bootstrap:<id>
// in system:bootstrappers (and the token's extra bootstrapper groups).
func (b BootstrapTokens) AuthenticateToken(_ context.Context, token string) (*User, bool) {
	m := bootstrapToken.FindStringSubmatch(token)
	if m == nil {
		return nil, false
	}
	id, secret := m[1], m[2]
	s, ok := b.Secret(bootstrapapi.BootstrapTokenSecretPrefix + id)
	if !ok || s.Type != bootstrapapi.SecretTypeBootstrapToken || s.DeletionTimestamp != nil {
		return nil, false
	}
	if string(s.Data[bootstrapapi.BootstrapTokenIDKey]) != id ||
		subtle.ConstantTimeCompare(s.Data[bootstrapapi.BootstrapTokenSecretKey], []byte(secret)) != 1 ||
		string(s.Data[bootstrapapi.BootstrapTokenUsageAuthentication]) != "true" || TokenExpired(s, b.Now()) {
		return nil, false
	}
	groups := []string{Bootstrappers}
	for _, g := range strings.Split(string(s.Data[bootstrapapi.BootstrapTokenExtraGroupsKey]), ",") {
		if g = strings.TrimSpace(g); strings.HasPrefix(g, Bootstrappers+":") {
			groups = append(groups, g)
		}
	}
	return &User{Name: bootstrapapi.BootstrapUserPrefix + id, Groups: groups}, true
}

// TokenExpired reports a bootstrap-token Secret past its expiration (RFC 3339); an
// unreadable expiration counts as expired.
func TokenExpired(s *corev1.Secret, now time.Time) bool {
	exp, ok := s.Data[bootstrapapi.BootstrapTokenExpirationKey]
	if !ok {
		return false
	}
	t, err := time.Parse(time.RFC3339, string(exp))
	return err != nil || !now.Before(t)
}
