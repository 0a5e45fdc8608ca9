package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"strings"
	"testing"
)

// TestServiceAccountUserExtra: a token bound to a pod authenticates with its ID
// and bindings in the user's extra info, as Kubernetes reports them.
func TestServiceAccountUserExtra(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s := &ServiceAccountTokens{Key: key}
	tok, _, err := s.Issue(TokenRequest{Namespace: "ns", ServiceAccount: "sa", ServiceAccountUID: "sa-uid",
		PodName: "web", PodUID: "pod-uid", NodeName: "n1", NodeUID: "node-uid"})
	if err != nil {
		t.Fatal(err)
	}
	u, ok := s.AuthenticateToken(context.Background(), tok)
	if !ok {
		t.Fatal("token refused")
	}
	want := map[string]string{"pod-name": "web", "pod-uid": "pod-uid", "node-name": "n1", "node-uid": "node-uid"}
	for k, v := range want {
		if got := u.Extra["authentication.kubernetes.io/"+k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s = %v, want [%s]", k, got, v)
		}
	}
	id := u.Extra["authentication.kubernetes.io/credential-id"]
	if len(id) != 1 || !strings.HasPrefix(id[0], "JTI=") || len(id[0]) < 10 {
		t.Errorf("credential-id = %v, want one JTI=...", id)
	}
	other, _, _ := s.Issue(TokenRequest{Namespace: "ns", ServiceAccount: "sa"})
	if u2, _ := s.AuthenticateToken(context.Background(), other); u2.Extra["authentication.kubernetes.io/credential-id"][0] == id[0] {
		t.Error("two tokens share an ID")
	}
}
