// Package auth decides who a request comes from (authentication) and whether they may
// do what they ask (authorization).
package auth

import (
	"context"
	"crypto/subtle"
	"net/http"
	"slices"
	"strings"
)

// Well-known groups.
const (
	Masters       = "system:masters"
	Authenticated = "system:authenticated"
	Bootstrappers = "system:bootstrappers"
	Nodes         = "system:nodes"
	// ControlPlaneNodes holds the nodes of the servers themselves, whose client
	// certificates the server signs in-process (a CSR never gets this group): they may
	// label themselves node-role.kubernetes.io/control-plane.
	ControlPlaneNodes = "skiff:control-plane-nodes"
)

// User is an authenticated identity.
type User struct {
	Name   string
	UID    string
	Groups []string
}

// InGroup reports membership of g.
func (u *User) InGroup(g string) bool { return slices.Contains(u.Groups, g) }

type userKey struct{}

// WithUser returns ctx carrying u.
func WithUser(ctx context.Context, u *User) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

// UserFrom returns the user a request was authenticated as, or nil.
func UserFrom(ctx context.Context) *User {
	u, _ := ctx.Value(userKey{}).(*User)
	return u
}

// TokenAuthenticator resolves a bearer token to a user.
type TokenAuthenticator interface {
	AuthenticateToken(ctx context.Context, token string) (*User, bool)
}

// Authenticator checks client certificates (already verified against the cluster CA
// by the TLS layer) and then bearer tokens.
type Authenticator struct {
	Tokens []TokenAuthenticator
}

// Authenticate returns the request's user, or false when it proved no identity.
func (a *Authenticator) Authenticate(r *http.Request) (*User, bool) {
	if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		cert := r.TLS.VerifiedChains[0][0]
		return withAuthenticated(&User{Name: cert.Subject.CommonName, Groups: cert.Subject.Organization}), true
	}
	h := r.Header.Get("Authorization")
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || token == "" {
		return nil, false
	}
	for _, t := range a.Tokens {
		if u, ok := t.AuthenticateToken(r.Context(), strings.TrimSpace(token)); ok {
			return withAuthenticated(u), true
		}
	}
	return nil, false
}

func withAuthenticated(u *User) *User {
	if !u.InGroup(Authenticated) {
		u.Groups = append(slices.Clip(u.Groups), Authenticated)
	}
	return u
}

// StaticToken is one fixed token for one user (the agents' join token).
type StaticToken struct {
	Token string
	User  User
}

// AuthenticateToken compares in constant time.
func (s StaticToken) AuthenticateToken(_ context.Context, token string) (*User, bool) {
	if subtle.ConstantTimeCompare([]byte(s.Token), []byte(token)) != 1 {
		return nil, false
	}
	u := s.User
	u.Groups = slices.Clone(u.Groups)
	return &u, true
}

// Attributes describe what a request wants to do.
type Attributes struct {
	User        *User
	Verb        string // get list watch create update patch delete deletecollection, or the HTTP verb for non-resource paths
	Namespace   string
	APIGroup    string
	Resource    string
	Subresource string
	Name        string
	Path        string // non-resource requests only
	// FieldSelector is a list or watch's fieldSelector (a metadata.name selector also
	// sets Name, as Kubernetes authorizes it).
	FieldSelector string
}

// IsResource reports a request for an API object (not /healthz, /version, ...).
func (a Attributes) IsResource() bool { return a.Resource != "" }

// Authorizer decides a request. reason explains a denial to the user.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) (allowed bool, reason string)
}

// Union allows what any of its authorizers allows.
type Union []Authorizer

// Authorize asks each authorizer in turn.
func (u Union) Authorize(ctx context.Context, a Attributes) (bool, string) {
	var reasons []string
	for _, z := range u {
		ok, why := z.Authorize(ctx, a)
		if ok {
			return true, ""
		}
		if why != "" {
			reasons = append(reasons, why)
		}
	}
	return false, strings.Join(reasons, "; ")
}

// MastersAuthorizer lets system:masters do everything.
type MastersAuthorizer struct{}

// Authorize allows members of system:masters.
func (MastersAuthorizer) Authorize(_ context.Context, a Attributes) (bool, string) {
	return a.User != nil && a.User.InGroup(Masters), ""
}
