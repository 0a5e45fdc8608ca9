package serverjoin

import (
	"strings"
	"testing"
)

func TestTokenPinsTheCA(t *testing.T) {
	ca, other := []byte("-----BEGIN CERTIFICATE-----\nA\n"), []byte("-----BEGIN CERTIFICATE-----\nB\n")
	tok, err := parseToken(FormatToken(ca, "s3cret") + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if tok.secret != "s3cret" || !tok.matchesCA(ca) || tok.matchesCA(other) {
		t.Fatalf("parsed %+v: secret or CA pinning wrong", tok)
	}
	for _, bad := range []string{"", "s3cret", "K10abc::server:x", "K10" + strings.Repeat("a", 64) + "::server:", strings.Repeat("a", 64)} {
		if _, err := parseToken(bad); err == nil {
			t.Errorf("token %q accepted", bad)
		}
	}
}

func TestJoinRequestValidation(t *testing.T) {
	for _, c := range []struct {
		req Request
		ok  bool
	}{
		{Request{Name: "s2", PeerURL: "https://10.0.0.2:2380"}, true},
		{Request{Name: "S2!", PeerURL: "https://10.0.0.2:2380"}, false},
		{Request{Name: "s2", PeerURL: "http://10.0.0.2:2380"}, false},
		{Request{Name: "s2", PeerURL: "https://host.example:2380"}, false},
		{Request{Name: "s2", PeerURL: "https://10.0.0.2"}, false},
	} {
		if err := validate(c.req); (err == nil) != c.ok {
			t.Errorf("validate(%+v) = %v, want ok=%v", c.req, err, c.ok)
		}
	}
}
