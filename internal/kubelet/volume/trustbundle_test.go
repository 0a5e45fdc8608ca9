package volume

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func caPEM(t *testing.T, cn string) string {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestTrustBundleFiles(t *testing.T) {
	a, b, c := caPEM(t, "a"), caPEM(t, "b"), caPEM(t, "c")
	ctb := func(name, signer, pemData string, labels map[string]string) *certificatesv1.ClusterTrustBundle {
		return &certificatesv1.ClusterTrustBundle{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels},
			Spec: certificatesv1.ClusterTrustBundleSpec{SignerName: signer, TrustBundle: pemData}}
	}
	m := New(context.Background(), Config{Client: fake.NewClientset(
		ctb("plain", "", a, nil),
		ctb("example.com:s:1", "example.com/s", b, map[string]string{"alive": "true"}),
		ctb("example.com:s:2", "example.com/s", c+b, map[string]string{"alive": "false"}),
		ctb("example.com:other:1", "example.com/other", a, map[string]string{"alive": "true"}),
	)})
	tests := []struct {
		name      string
		src       corev1.ClusterTrustBundleProjection
		want      []string // certificates in the file; nil with notFound
		notFound  bool
		wantEmpty bool
	}{
		{"by name", corev1.ClusterTrustBundleProjection{Name: ptr("plain")}, []string{a}, false, false},
		{"missing name, optional", corev1.ClusterTrustBundleProjection{Name: ptr("nope"), Optional: ptr(true)}, nil, false, true},
		{"missing name", corev1.ClusterTrustBundleProjection{Name: ptr("nope")}, nil, true, false},
		{"signer and labels", corev1.ClusterTrustBundleProjection{SignerName: ptr("example.com/s"),
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"alive": "true"}}}, []string{b}, false, false},
		{"signer, empty selector: all of the signer's, each once", corev1.ClusterTrustBundleProjection{SignerName: ptr("example.com/s"),
			LabelSelector: &metav1.LabelSelector{}}, []string{b, c}, false, false},
		{"signer, nil selector matches nothing", corev1.ClusterTrustBundleProjection{SignerName: ptr("example.com/s")}, nil, true, false},
		{"signer, nil selector, optional", corev1.ClusterTrustBundleProjection{SignerName: ptr("example.com/s"), Optional: ptr(true)}, nil, false, true},
	}
	for _, tt := range tests {
		tt.src.Path = "ca.pem"
		files, err := m.trustBundleFiles(context.Background(), &tt.src, nil)
		var nf *NotFoundError
		if tt.notFound {
			if !errors.As(err, &nf) {
				t.Errorf("%s: err %v, want not found", tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		got := string(files["ca.pem"].Data)
		if tt.wantEmpty != (got == "") {
			t.Errorf("%s: file %q, want empty %v", tt.name, got, tt.wantEmpty)
		}
		for _, w := range tt.want {
			if strings.Count(got, w) != 1 {
				t.Errorf("%s: certificate present %d times, want once:\n%s", tt.name, strings.Count(got, w), got)
			}
		}
		if n := strings.Count(got, "BEGIN CERTIFICATE"); n != len(tt.want) {
			t.Errorf("%s: %d certificates, want %d", tt.name, n, len(tt.want))
		}
	}
}
