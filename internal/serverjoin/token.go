// Package serverjoin lets a second (third, ...) `skiff server` join a running one:
// it proves itself with a server join token, receives the cluster's shared secrets
// (CA, service-account signing key, encryption-at-rest configuration, join tokens)
// over TLS pinned to the cluster CA, and becomes an etcd learner that is promoted
// once it has caught up.
//
// A server join token is distinct from an agent's join token: an agent token
// authenticates only for the agent join path and can never fetch these secrets.
package serverjoin

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"skiff/internal/pki"
)

const (
	// Path is where a joining server trades its token for the cluster's secrets.
	Path = "/skiff/v1/server-join"
	// MembersPath lists the servers (GET) and removes one (DELETE MembersPath/NAME);
	// cluster admins only.
	MembersPath = "/skiff/v1/servers"
	// CACertsPath serves the cluster CA certificate to anyone: a joining server
	// checks it against the hash in its token before sending the token.
	CACertsPath = "/cacerts"
	// User and Group are the identity the server join token authenticates as; it is
	// authorized for Path only.
	User  = "system:skiff:server-joiner"
	Group = "system:skiff:servers-joining"
)

// tokenPrefix and tokenSep frame a token: K10<sha256 of the CA PEM>::server:<secret>.
const tokenPrefix, tokenSep = "K10", "::server:"

// SecretFile holds the server join secret; TokenFile the full token to hand out.
func SecretFile(dataDir string) string { return filepath.Join(dataDir, "server-token") }
func TokenFile(dataDir string) string  { return filepath.Join(dataDir, "server-join-token") }

// EnsureToken loads or creates the server join secret and (re)writes the full
// token beside it; it returns the secret the API server authenticates.
func EnsureToken(dataDir string, caPEM []byte) (string, error) {
	secret, err := pki.LoadOrCreateToken(SecretFile(dataDir))
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(TokenFile(dataDir), []byte(FormatToken(caPEM, secret)+"\n"), 0o600); err != nil {
		return "", err
	}
	return secret, nil
}

// FormatToken is the token a user passes to `skiff server --token`.
func FormatToken(caPEM []byte, secret string) string {
	return tokenPrefix + caHash(caPEM) + tokenSep + secret
}

func caHash(caPEM []byte) string {
	sum := sha256.Sum256(caPEM)
	return hex.EncodeToString(sum[:])
}

// token is a parsed server join token.
type token struct{ caHash, secret string }

func parseToken(t string) (token, error) {
	t = strings.TrimSpace(t)
	rest, ok := strings.CutPrefix(t, tokenPrefix)
	hash, secret, ok2 := strings.Cut(rest, tokenSep)
	if !ok || !ok2 || len(hash) != 64 || secret == "" {
		return token{}, fmt.Errorf("--token is not a server join token (K10<CA hash>::server:<secret>, " +
			"the first server's <data-dir>/server-join-token); an agent's join token cannot join a server")
	}
	return token{caHash: hash, secret: secret}, nil
}

// matchesCA reports whether caPEM is the CA the token was issued under.
func (t token) matchesCA(caPEM []byte) bool {
	return subtle.ConstantTimeCompare([]byte(t.caHash), []byte(caHash(caPEM))) == 1
}
