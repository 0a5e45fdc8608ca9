package pki

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/tools/clientcmd"
)

func TestKubeconfigRoundTrip(t *testing.T) {
	ca, _ := newTestCA(t)
	certPEM, keyPEM, err := ca.IssueClient("system:admin", []string{"system:masters"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		user            string
		cert, key       []byte
		token           string
		wantAuthInfoKey string
	}{
		{"client certificate", "admin", certPEM, keyPEM, "", "admin"},
		{"token", "node", nil, nil, "abc123", "node"},
		{"token without user name", "", nil, nil, "abc123", "skiff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := Kubeconfig("https://127.0.0.1:6443", ca.CertPEM, tt.user, tt.cert, tt.key, tt.token)
			if err != nil {
				t.Fatalf("Kubeconfig: %v", err)
			}
			cfg, err := clientcmd.Load(data)
			if err != nil {
				t.Fatalf("clientcmd.Load: %v", err)
			}
			if cfg.CurrentContext != "skiff" {
				t.Errorf("current context %q, want skiff", cfg.CurrentContext)
			}
			ctx := cfg.Contexts["skiff"]
			if ctx == nil || ctx.Cluster != "skiff" || ctx.AuthInfo != tt.wantAuthInfoKey {
				t.Errorf("context = %+v, want cluster skiff, user %s", ctx, tt.wantAuthInfoKey)
			}
			rc, err := clientcmd.RESTConfigFromKubeConfig(data)
			if err != nil {
				t.Fatalf("RESTConfigFromKubeConfig: %v", err)
			}
			got := struct {
				Host                 string
				CA, Cert, Key, Token string
			}{rc.Host, string(rc.CAData), string(rc.CertData), string(rc.KeyData), rc.BearerToken}
			want := struct {
				Host                 string
				CA, Cert, Key, Token string
			}{"https://127.0.0.1:6443", string(ca.CertPEM), string(tt.cert), string(tt.key), tt.token}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("rest.Config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKubeconfigRejectsAmbiguousCredentials(t *testing.T) {
	tests := []struct {
		name      string
		server    string
		cert, key []byte
		token     string
	}{
		{"no credential", "https://x:6443", nil, nil, ""},
		{"cert without key", "https://x:6443", []byte("c"), nil, ""},
		{"cert and token", "https://x:6443", []byte("c"), []byte("k"), "t"},
		{"no server", "", nil, nil, "t"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Kubeconfig(tt.server, []byte("ca"), "u", tt.cert, tt.key, tt.token); err == nil {
				t.Error("Kubeconfig succeeded, want error")
			}
		})
	}
}

// TestTLSHandshake runs a real mutual-TLS server on the serving certificate and
// checks who gets in: a client certificate from this CA does, through both a
// plain tls.Config and a client-go rest.Config built from a kubeconfig; a
// client without one does not.
