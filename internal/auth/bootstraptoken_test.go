package auth

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBootstrapTokens(t *testing.T) {
	now := time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC)
	secret := func(id, sec, usage, exp string) *corev1.Secret {
		d := map[string][]byte{"token-id": []byte(id), "token-secret": []byte(sec), "usage-bootstrap-authentication": []byte(usage),
			"auth-extra-groups": []byte("system:bootstrappers:workers,system:masters")}
		if exp != "" {
			d["expiration"] = []byte(exp)
		}
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bootstrap-token-" + id}, Type: "bootstrap.kubernetes.io/token", Data: d}
	}
	store := map[string]*corev1.Secret{}
	for _, s := range []*corev1.Secret{
		secret("abcdef", "0123456789abcdef", "true", ""),
		secret("future", "0123456789abcdef", "true", "2027-01-01T00:00:00Z"),
		secret("expird", "0123456789abcdef", "true", "2026-01-01T00:00:00Z"),
		secret("signer", "0123456789abcdef", "false", ""),
	} {
		store[s.Name] = s
	}
	b := BootstrapTokens{Now: func() time.Time { return now }, Secret: func(n string) (*corev1.Secret, bool) { s, ok := store[n]; return s, ok }}
	for _, tc := range []struct {
		token string
		ok    bool
	}{
		{"abcdef.0123456789abcdef", true},
		{"future.0123456789abcdef", true},
		{"abcdef.0123456789abcdee", false}, // wrong secret
		{"expird.0123456789abcdef", false}, // expired
		{"signer.0123456789abcdef", false}, // not for authentication
		{"nosuch.0123456789abcdef", false}, // deleted
		{"abcdef0123456789abcdef", false},  // not a token
	} {
		u, ok := b.AuthenticateToken(context.Background(), tc.token)
		if ok != tc.ok {
			t.Errorf("%s: ok = %v, want %v", tc.token, ok, tc.ok)
		}
		if ok && (u.Name != "system:bootstrap:"+tc.token[:6] || len(u.Groups) != 2 || u.Groups[1] != "system:bootstrappers:workers") {
			t.Errorf("%s: user %+v (system:masters must never come from a token's extra groups)", tc.token, u)
		}
	}
}
