package resources

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestClusterTrustBundleValidation(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	ca := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	tests := []struct {
		name, objName, signer, bundle string
		want                          string // "" for valid
	}{
		{"no signer", "corp-roots", "", ca, ""},
		{"signer with its prefix", "example.com:signer:1", "example.com/signer", ca, ""},
		{"signer without its prefix", "roots", "example.com/signer", ca, "must be named with prefix example.com:signer:"},
		{"colon without signer", "a:b", "", ca, `must not have ":"`},
		{"bad signer", "x:1", "x", ca, "spec.signerName"},
		{"not PEM", "roots", "", "hello", "at least one trust anchor"},
		{"wrong block", "roots", "", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})), "bad block type"},
		{"trailing junk", "roots", "", ca + "junk", "trailing data"},
	}
	for _, tt := range tests {
		ctb := &certificatesv1.ClusterTrustBundle{ObjectMeta: metav1.ObjectMeta{Name: tt.objName},
			Spec: certificatesv1.ClusterTrustBundleSpec{SignerName: tt.signer, TrustBundle: tt.bundle}}
		errs := create(clusterTrustBundleStrategy{}, ctb)
		got := errs.ToAggregate()
		switch {
		case tt.want == "" && got != nil:
			t.Errorf("%s: %v", tt.name, got)
		case tt.want != "" && (got == nil || !strings.Contains(got.Error(), tt.want)):
			t.Errorf("%s: %v, want %q", tt.name, got, tt.want)
		}
	}
}
