package pki

import (
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

func newTestCA(t *testing.T) (*CA, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatalf("LoadOrCreateCA: %v", err)
	}
	return ca, dir
}

func wantPerm(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %o, want %o", filepath.Base(path), got, want)
	}
}

// noTempFiles checks that atomic writes cleaned up after themselves.
func noTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temp file left behind: %s", e.Name())
		}
	}
}

func TestLoadOrCreateCA(t *testing.T) {
	ca, dir := newTestCA(t)

	if !ca.Cert.IsCA || ca.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA cert: IsCA=%v KeyUsage=%v, want IsCA with CertSign", ca.Cert.IsCA, ca.Cert.KeyUsage)
	}
	if ca.Cert.Subject.CommonName != "skiff-ca" {
		t.Errorf("CN = %q, want skiff-ca", ca.Cert.Subject.CommonName)
	}
	if life := ca.Cert.NotAfter.Sub(time.Now()); life < 9*365*24*time.Hour {
		t.Errorf("CA valid for %v, want about 10 years", life)
	}
	if _, ok := ca.Key.(*ecdsa.PrivateKey); !ok {
		t.Errorf("CA key is %T, want ECDSA", ca.Key)
	}
	wantPerm(t, dir, 0o700)
	wantPerm(t, filepath.Join(dir, "ca.key"), 0o600)
	noTempFiles(t, dir)

	again, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if diff := cmp.Diff(string(ca.CertPEM), string(again.CertPEM)); diff != "" {
		t.Errorf("reloaded CA certificate differs (-first +reload):\n%s", diff)
	}
	if !again.Cert.Equal(ca.Cert) || !publicKeysEqual(again.Key.Public(), ca.Key.Public()) {
		t.Error("reloaded CA is not the one created")
	}
}

func TestLoadOrCreateCARefusesBrokenCA(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(t *testing.T, dir string)
	}{
		{"key missing", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "ca.key")); err != nil {
				t.Fatal(err)
			}
		}},
		{"key from another CA", func(t *testing.T, dir string) {
			other, _ := newTestCA(t)
			keyPEM, err := encodeKey(other.Key)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "ca.key"), keyPEM, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{"cert garbage", func(t *testing.T, dir string) {
			if err := os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("nope"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir := newTestCA(t)
			tt.corrupt(t, dir)
			if _, err := LoadOrCreateCA(dir); err == nil {
				t.Fatal("LoadOrCreateCA succeeded; want an error rather than a silently replaced CA")
			}
		})
	}
}

func TestServingCertVerifiesForEachHost(t *testing.T) {
	ca, dir := newTestCA(t)
	hosts := []string{"127.0.0.1", "::1", "10.43.0.1", "localhost", "kubernetes.default.svc.cluster.local", "Node-1"}
	pair, err := ca.ServingCert(dir, "apiserver", hosts)
	if err != nil {
		t.Fatalf("ServingCert: %v", err)
	}
	wantPerm(t, filepath.Join(dir, "apiserver.key"), 0o600)
	noTempFiles(t, dir)

	for _, h := range append(hosts, "node-1") {
		t.Run(h, func(t *testing.T) {
			_, err := pair.Leaf.Verify(x509.VerifyOptions{
				Roots:     ca.Pool(),
				DNSName:   h,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				t.Errorf("verify %s: %v", h, err)
			}
		})
	}
	_, err = pair.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), DNSName: "evil.example"})
	if err == nil {
		t.Error("certificate verified for a host it was not issued for")
	}
	_, err = pair.Leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err == nil {
		t.Error("serving certificate verified for client auth")
	}
}

func TestServingCertReissue(t *testing.T) {
	base := []string{"127.0.0.1", "localhost"}
	tests := []struct {
		name        string
		prepare     func(t *testing.T, ca *CA, dir string) // runs after the first issue
		hosts       []string
		wantReissue bool
	}{
		{name: "same hosts", hosts: base, wantReissue: false},
		{name: "subset and different case", hosts: []string{"LOCALHOST"}, wantReissue: false},
		{name: "new DNS name", hosts: append(base, "node-2"), wantReissue: true},
		{name: "new IP", hosts: append(base, "192.168.1.10"), wantReissue: true},
		{
			name: "expiring within 30 days", hosts: base, wantReissue: true,
			prepare: func(t *testing.T, ca *CA, dir string) { writeShortLived(t, ca, dir, "apiserver", base) },
		},
		{
			name: "issued by another CA", hosts: base, wantReissue: true,
			prepare: func(t *testing.T, _ *CA, dir string) {
				other, odir := newTestCA(t)
				if _, err := other.ServingCert(odir, "apiserver", base); err != nil {
					t.Fatal(err)
				}
				for _, ext := range []string{".crt", ".key"} {
					data, err := os.ReadFile(filepath.Join(odir, "apiserver"+ext))
					if err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(filepath.Join(dir, "apiserver"+ext), data, 0o600); err != nil {
						t.Fatal(err)
					}
				}
			},
		},
		{
			name: "key file does not match", hosts: base, wantReissue: true,
			prepare: func(t *testing.T, ca *CA, dir string) {
				keyPEM, err := encodeKey(ca.Key)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "apiserver.key"), keyPEM, 0o600); err != nil {
					t.Fatal(err)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ca, dir := newTestCA(t)
			if _, err := ca.ServingCert(dir, "apiserver", base); err != nil {
				t.Fatal(err)
			}
			if tt.prepare != nil {
				tt.prepare(t, ca, dir)
			}
			before, err := os.ReadFile(filepath.Join(dir, "apiserver.crt"))
			if err != nil {
				t.Fatal(err)
			}
			pair, err := ca.ServingCert(dir, "apiserver", tt.hosts)
			if err != nil {
				t.Fatalf("ServingCert: %v", err)
			}
			after, err := os.ReadFile(filepath.Join(dir, "apiserver.crt"))
			if err != nil {
				t.Fatal(err)
			}
			if reissued := string(before) != string(after); reissued != tt.wantReissue {
				t.Errorf("reissued = %v, want %v", reissued, tt.wantReissue)
			}
			if !pair.Leaf.Equal(mustParseCert(t, after)) {
				t.Error("returned certificate is not the one on disk")
			}
			for _, h := range tt.hosts {
				if err := pair.Leaf.VerifyHostname(h); err != nil {
					t.Errorf("result does not cover %s: %v", h, err)
				}
			}
		})
	}
}

func TestServingCertRejectsBadHosts(t *testing.T) {
	ca, dir := newTestCA(t)
	for _, hosts := range [][]string{nil, {"localhost", " "}} {
		if _, err := ca.ServingCert(dir, "apiserver", hosts); err == nil {
			t.Errorf("ServingCert(%q) succeeded, want error", hosts)
		}
	}
}

// writeShortLived replaces dir/name with a certificate that has 10 days left.
func writeShortLived(t *testing.T, ca *CA, dir, name string, hosts []string) {
	t.Helper()
	ips, dnsNames, err := splitHosts(hosts)
	if err != nil {
		t.Fatal(err)
	}
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.sign(key.Public(), &x509.Certificate{
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: ips, DNSNames: dnsNames,
	}, 10*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := writePair(filepath.Join(dir, name), certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
}

func mustParseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	cert, err := parseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestClientCert(t *testing.T) {
	ca, dir := newTestCA(t)
	groups := []string{"system:masters", "system:authenticated"}
	certPEM, keyPEM, err := ca.ClientCert(dir, "admin", "system:admin", groups)
	if err != nil {
		t.Fatalf("ClientCert: %v", err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatalf("returned cert and key do not match: %v", err)
	}
	wantPerm(t, filepath.Join(dir, "admin.key"), 0o600)
	cert := mustParseCert(t, certPEM)
	if got := cert.Subject.CommonName; got != "system:admin" {
		t.Errorf("CN = %q, want system:admin", got)
	}
	if diff := cmp.Diff(groups, cert.Subject.Organization); diff != "" {
		t.Errorf("O (-want +got):\n%s", diff)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify for client auth: %v", err)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool()}); err == nil {
		t.Error("client certificate verified for server auth")
	}

	tests := []struct {
		name        string
		user        string
		groups      []string
		wantReissue bool
	}{
		{"same identity", "system:admin", groups, false},
		{"groups reordered", "system:admin", []string{"system:authenticated", "system:masters"}, false},
		{"group dropped", "system:admin", []string{"system:masters"}, true},
		{"user changed", "alice", []string{"system:masters"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := ca.ClientCert(dir, "admin", tt.user, tt.groups)
			if err != nil {
				t.Fatal(err)
			}
			if reissued := string(got) != string(certPEM); reissued != tt.wantReissue {
				t.Errorf("reissued = %v, want %v", reissued, tt.wantReissue)
			}
			cert := mustParseCert(t, got)
			if cert.Subject.CommonName != tt.user {
				t.Errorf("CN = %q, want %q", cert.Subject.CommonName, tt.user)
			}
			certPEM = got
		})
	}

	t.Run("expiring within 30 days", func(t *testing.T) {
		writeShortLived(t, ca, dir, "short", []string{"localhost"})
		got, _, err := ca.ClientCert(dir, "short", "", nil)
		if err == nil {
			t.Fatalf("empty user accepted: %s", got)
		}
		before, _ := os.ReadFile(filepath.Join(dir, "short.crt"))
		got, _, err = ca.ClientCert(dir, "short", "bob", nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) == string(before) {
			t.Error("short-lived certificate was not reissued")
		}
	})
}

func TestSignClient(t *testing.T) {
	ca, _ := newTestCA(t)
	key, err := newKey()
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := ca.SignClient(key.Public(), "system:node:n1", []string{"system:nodes"}, time.Hour)
	if err != nil {
		t.Fatalf("SignClient: %v", err)
	}
	cert := mustParseCert(t, certPEM)
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		t.Error("certificate is not for the given public key")
	}
	if life := time.Until(cert.NotAfter); life > time.Hour || life < 59*time.Minute {
		t.Errorf("validity left %v, want about 1h", life)
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify: %v", err)
	}
	if _, err := ca.SignClient(nil, "u", nil, 0); err == nil {
		t.Error("SignClient(nil key) succeeded")
	}
	if a, b := mustSerial(t, ca), mustSerial(t, ca); a == b {
		t.Error("two certificates got the same serial")
	}
}

func mustSerial(t *testing.T, ca *CA) string {
	certPEM, _, err := ca.IssueClient("u", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	cert := mustParseCert(t, certPEM)
	if cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial has %d bits, want at most 128", cert.SerialNumber.BitLen())
	}
	return cert.SerialNumber.String()
}

func TestTLSHandshake(t *testing.T) {
	ca, dir := newTestCA(t)
	serving, err := ca.ServingCert(dir, "apiserver", []string{"127.0.0.1", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer := r.TLS.PeerCertificates[0]
		fmt.Fprintf(w, "%s %v", peer.Subject.CommonName, peer.Subject.Organization)
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{serving},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.Pool(),
	}
	srv.StartTLS()
	defer srv.Close()

	certPEM, keyPEM, err := ca.ClientCert(dir, "admin", "system:admin", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	clientPair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	// A certificate from another CA must be refused as firmly as none at all.
	other, odir := newTestCA(t)
	otherCert, otherKey, err := other.ClientCert(odir, "admin", "system:admin", []string{"system:masters"})
	if err != nil {
		t.Fatal(err)
	}
	otherPair, err := tls.X509KeyPair(otherCert, otherKey)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		certs   []tls.Certificate
		wantErr bool
	}{
		{"client certificate from the CA", []tls.Certificate{clientPair}, false},
		{"no client certificate", nil, true},
		{"client certificate from another CA", []tls.Certificate{otherPair}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs:      ca.Pool(),
				Certificates: tt.certs,
			}}}
			body, err := get(client, srv.URL)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("request succeeded (%q), want handshake failure", body)
				}
				return
			}
			if err != nil {
				t.Fatalf("request: %v", err)
			}
			if want := "system:admin [system:masters]"; body != want {
				t.Errorf("server saw %q, want %q", body, want)
			}
		})
	}

	t.Run("rest.Config from kubeconfig", func(t *testing.T) {
		kc, err := Kubeconfig(srv.URL, ca.CertPEM, "admin", certPEM, keyPEM, "")
		if err != nil {
			t.Fatal(err)
		}
		rc, err := clientcmd.RESTConfigFromKubeConfig(kc)
		if err != nil {
			t.Fatal(err)
		}
		client, err := rest.HTTPClientFor(rc)
		if err != nil {
			t.Fatal(err)
		}
		body, err := get(client, srv.URL)
		if err != nil {
			t.Fatalf("request with kubeconfig credentials: %v", err)
		}
		if want := "system:admin [system:masters]"; body != want {
			t.Errorf("server saw %q, want %q", body, want)
		}
	})
}

func get(client *http.Client, url string) (string, error) {
	resp, err := client.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}
