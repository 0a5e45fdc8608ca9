package pki

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "server", "token")
	tok, err := LoadOrCreateToken(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if len(tok) != 64 || strings.Trim(tok, "0123456789abcdef") != "" {
		t.Errorf("token %q, want 64 hex characters", tok)
	}
	wantPerm(t, path, 0o600)
	noTempFiles(t, filepath.Dir(path))
	again, err := LoadOrCreateToken(path)
	if err != nil || again != tok {
		t.Errorf("reload = %q, %v; want %q", again, err, tok)
	}

	handWritten := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(handWritten, []byte("  my-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := LoadOrCreateToken(handWritten); err != nil || got != "my-token" {
		t.Errorf("hand-written token = %q, %v; want my-token", got, err)
	}
	if err := os.WriteFile(handWritten, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(handWritten); err == nil {
		t.Error("empty token file accepted")
	}
}

// TestLoadOrCreateTokenRace checks that concurrent creators agree on one token.
func TestLoadOrCreateTokenRace(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	const n = 8
	got := make(chan string, n)
	for range n {
		go func() {
			tok, err := LoadOrCreateToken(path)
			if err != nil {
				t.Error(err)
			}
			got <- tok
		}()
	}
	first := <-got
	for range n - 1 {
		if tok := <-got; tok != first {
			t.Errorf("callers got different tokens: %q and %q", first, tok)
		}
	}
}

func TestLoadOrCreateSigningKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sa.key")
	key, err := LoadOrCreateSigningKey(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if key.Curve.Params().Name != "P-256" {
		t.Errorf("curve %s, want P-256", key.Curve.Params().Name)
	}
	wantPerm(t, path, 0o600)
	again, err := LoadOrCreateSigningKey(path)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if !again.Equal(key) {
		t.Error("reloaded signing key differs")
	}
	if err := os.WriteFile(path, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSigningKey(path); err == nil {
		t.Error("garbage key file accepted; want an error rather than a replaced key")
	}
}
