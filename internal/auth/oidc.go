package auth

import (
	"encoding/json"
	"net/http"
)

// Service account issuer discovery: the OpenID Connect documents that let anything
// outside the cluster verify service account tokens, as Kubernetes publishes them.
const (
	OpenIDConfigurationPath = "/.well-known/openid-configuration"
	JWKSPath                = "/openid/v1/jwks"
)

// OpenIDConfigurationHandler serves the issuer's discovery document.
func OpenIDConfigurationHandler() http.Handler {
	doc, _ := json.Marshal(map[string]any{
		"issuer":                                ServiceAccountIssuer,
		"jwks_uri":                              ServiceAccountIssuer + JWKSPath,
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
	})
	return documentHandler("application/json", doc)
}

// JWKSHandler serves the public key that verifies the tokens, as a JSON Web Key Set.
func (s *ServiceAccountTokens) JWKSHandler() http.Handler {
	pub := s.Key.PublicKey
	x, y := make([]byte, 32), make([]byte, 32)
	pub.X.FillBytes(x)
	pub.Y.FillBytes(y)
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"use": "sig", "kty": "EC", "crv": "P-256", "alg": "ES256", "kid": s.keyID(), "x": b64(x), "y": b64(y),
	}}})
	return documentHandler("application/jwk-set+json", doc)
}

func documentHandler(contentType string, doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Write(doc)
	})
}
