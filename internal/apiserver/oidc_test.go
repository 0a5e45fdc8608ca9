package apiserver_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/testserver"
)

// TestServiceAccountIssuerDiscovery follows what an OIDC relying party does with a
// service account token: read the issuer's discovery document (as the service
// account itself), fetch the key set it names, and verify the token with that key.
func TestServiceAccountIssuerDiscovery(t *testing.T) {
	srv := testserver.Start(t)
	ctx := context.Background()
	sa, err := srv.Client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "oidc"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tr, err := srv.Client.CoreV1().ServiceAccounts("default").CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := tr.Status.Token
	cfg := rest.AnonymousClientConfig(srv.Config)
	cfg.BearerToken = token
	asSA := kubernetes.NewForConfigOrDie(cfg).Discovery().RESTClient()

	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	raw, err := asSA.Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx)
	if err != nil {
		t.Fatalf("the service account cannot read the discovery document: %v", err)
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	claims := jwtPart(t, token, 1)
	if doc.Issuer != claims["iss"] || !strings.HasSuffix(doc.JWKSURI, "/openid/v1/jwks") || !strings.HasPrefix(doc.JWKSURI, doc.Issuer) {
		t.Fatalf("discovery document %s does not match the token's issuer %v", raw, claims["iss"])
	}
	raw, err = asSA.Get().AbsPath("/openid/v1/jwks").DoRaw(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct{ Kid, Kty, Crv, X, Y string }
	}
	if err := json.Unmarshal(raw, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("key set %s: %v", raw, err)
	}
	k := set.Keys[0]
	if k.Kid != jwtPart(t, token, 0)["kid"] || k.Kty != "EC" || k.Crv != "P-256" {
		t.Fatalf("key %+v does not match the token's header", k)
	}
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: new(big.Int).SetBytes(unb64(t, k.X)), Y: new(big.Int).SetBytes(unb64(t, k.Y))}
	parts := strings.Split(token, ".")
	sig := unb64(t, parts[2])
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, sum[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Error("the published key does not verify the token")
	}
}

func unb64(t *testing.T, s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func jwtPart(t *testing.T, token string, i int) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(unb64(t, strings.Split(token, ".")[i]), &m); err != nil {
		t.Fatal(err)
	}
	return m
}
