package resources

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// pcrFixture is a valid request for key, and a certificate issuer for it.
func pcrFixture(t *testing.T, key crypto.Signer) *certificatesv1.PodCertificateRequest {
	t.Helper()
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.PodCertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "req-1", Namespace: "ns", ResourceVersion: "1"},
		Spec: certificatesv1.PodCertificateRequestSpec{
			SignerName: "example.com/signer", PodName: "web", PodUID: "p1", ServiceAccountName: "default",
			ServiceAccountUID: "s1", NodeName: "n1", NodeUID: "u1", StubPKCS10Request: csr,
		},
	}
}

// issue returns a PEM certificate for pub valid from notBefore for life.
func issue(t *testing.T, pub crypto.PublicKey, notBefore time.Time, life time.Duration) string {
	t.Helper()
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: notBefore, NotAfter: notBefore.Add(life)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, ca)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func TestPodCertificateRequestCreate(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	smallCurve, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	tests := []struct {
		name   string
		mutate func(*certificatesv1.PodCertificateRequest)
		want   []string
	}{
		{"valid, defaulted to a day", func(*certificatesv1.PodCertificateRequest) {}, []string{}},
		{"too short", func(r *certificatesv1.PodCertificateRequest) { r.Spec.MaxExpirationSeconds = podPtr[int32](3599) },
			[]string{"spec.maxExpirationSeconds: FieldValueInvalid"}},
		{"too long for a kubernetes.io signer", func(r *certificatesv1.PodCertificateRequest) {
			r.Spec.SignerName, r.Spec.MaxExpirationSeconds = "kubernetes.io/foo", podPtr[int32](2*86400)
		}, []string{"spec.maxExpirationSeconds: FieldValueInvalid"}},
		{"91 days for others", func(r *certificatesv1.PodCertificateRequest) { r.Spec.MaxExpirationSeconds = podPtr[int32](91 * 86400) }, []string{}},
		{"signer without a path", func(r *certificatesv1.PodCertificateRequest) { r.Spec.SignerName = "example.com" },
			[]string{"spec.signerName: FieldValueInvalid"}},
		{"no UIDs", func(r *certificatesv1.PodCertificateRequest) { r.Spec.PodUID, r.Spec.NodeUID = "", "" },
			[]string{"spec.nodeUID: FieldValueInvalid", "spec.podUID: FieldValueInvalid"}},
		{"not a CSR", func(r *certificatesv1.PodCertificateRequest) { r.Spec.StubPKCS10Request = []byte("hello") },
			[]string{"spec.stubPKCS10Request: FieldValueInvalid"}},
		{"unsupported curve", func(r *certificatesv1.PodCertificateRequest) {
			r.Spec.StubPKCS10Request = pcrFixture(t, smallCurve).Spec.StubPKCS10Request
		}, []string{"spec.stubPKCS10Request: FieldValueInvalid"}},
		{"annotation key without a domain", func(r *certificatesv1.PodCertificateRequest) {
			r.Spec.UnverifiedUserAnnotations = map[string]string{"path": "/x"}
		}, []string{"spec.unverifiedUserAnnotations: FieldValueInvalid"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcr := pcrFixture(t, key)
			tt.mutate(pcr)
			if got := errKeys(create(podCertificateRequestStrategy{}, pcr)); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("errors %v, want %v", got, tt.want)
			}
			if tt.name == "valid, defaulted to a day" && *pcr.Spec.MaxExpirationSeconds != 86400 {
				t.Errorf("maxExpirationSeconds defaulted to %d", *pcr.Spec.MaxExpirationSeconds)
			}
		})
	}
}

// TestPodCertificateRequestStatus: the signer's one write, checked against the
// request, and nothing after it.
func TestPodCertificateRequestStatus(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now().Truncate(time.Second)
	issued := func(pub crypto.PublicKey, notBefore time.Time, life time.Duration) func(*certificatesv1.PodCertificateRequestStatus) {
		return func(s *certificatesv1.PodCertificateRequestStatus) {
			s.CertificateChain = issue(t, pub, notBefore, life)
			s.NotBefore, s.NotAfter = &metav1.Time{Time: notBefore}, &metav1.Time{Time: notBefore.Add(life)}
			s.BeginRefreshAt = &metav1.Time{Time: notBefore.Add(life / 2)}
			s.Conditions = []metav1.Condition{{Type: "Issued", Status: "True", Reason: "Signed", LastTransitionTime: metav1.Now()}}
		}
	}
	tests := []struct {
		name   string
		before func(*certificatesv1.PodCertificateRequestStatus)
		status func(*certificatesv1.PodCertificateRequestStatus)
		want   string // "" for valid
	}{
		{"issue", nil, issued(key.Public(), now, time.Hour), ""},
		{"issued to another key", nil, issued(other.Public(), now, time.Hour), "not issued to the requested public key"},
		{"shorter than an hour", nil, issued(key.Public(), now, 30*time.Minute), "lifetime must be >= 1 hour"},
		{"longer than asked", nil, issued(key.Public(), now, 48*time.Hour), "spec.maxExpirationSeconds"},
		{"from the past", nil, issued(key.Public(), now.Add(-time.Hour), 2*time.Hour), "within 5 minutes"},
		{"deny", nil, func(s *certificatesv1.PodCertificateRequestStatus) {
			s.Conditions = []metav1.Condition{{Type: "Denied", Status: "True", Reason: "No", LastTransitionTime: metav1.Now()}}
		}, ""},
		{"deny with a chain", nil, func(s *certificatesv1.PodCertificateRequestStatus) {
			issued(key.Public(), now, time.Hour)(s)
			s.Conditions[0].Type = "Denied"
		}, "must be empty when denying"},
		{"unknown condition", nil, func(s *certificatesv1.PodCertificateRequestStatus) {
			s.Conditions = []metav1.Condition{{Type: "Ready", Status: "True", Reason: "R", LastTransitionTime: metav1.Now()}}
		}, "Unsupported value"},
		{"reissue", issued(key.Public(), now, time.Hour), issued(key.Public(), now, 2*time.Hour), "immutable after PodCertificateRequest is issued"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := pcrFixture(t, key)
			podCertificateRequestStrategy{}.Default(old)
			if tt.before != nil {
				tt.before(&old.Status)
			}
			pcr := old.DeepCopy()
			tt.status(&pcr.Status)
			s := podCertificateRequestStrategy{}
			s.PrepareForUpdate(pcr, old, "status")
			got := s.Validate(pcr, old).ToAggregate()
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("rejected: %v", got)
			case tt.want != "" && (got == nil || !strings.Contains(got.Error(), tt.want)):
				t.Errorf("got %v, want %q", got, tt.want)
			}
		})
	}
	t.Run("spec is immutable", func(t *testing.T) {
		old := pcrFixture(t, key)
		pcr := old.DeepCopy()
		pcr.Spec.PodName = "other"
		if errs := (podCertificateRequestStrategy{}).Validate(pcr, old); len(errs) == 0 || errs[0].Field != "spec" {
			t.Errorf("spec change accepted: %v", errs)
		}
	})
}

// TestPodCertificateProjectionValidation: pods with a podCertificate source are
// rejected when the source cannot work, with Kubernetes' messages.
func TestPodCertificateProjectionValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*corev1.PodCertificateProjection)
		want   string
	}{
		{"valid", func(*corev1.PodCertificateProjection) {}, ""},
		{"too short", func(p *corev1.PodCertificateProjection) { p.MaxExpirationSeconds = podPtr[int32](3599) },
			"if provided, maxExpirationSeconds must be >= 3600"},
		{"too long", func(p *corev1.PodCertificateProjection) { p.MaxExpirationSeconds = podPtr[int32](91*86400 + 1) },
			"if provided, maxExpirationSeconds must be <= 7862400"},
		{"key type", func(p *corev1.PodCertificateProjection) { p.KeyType = "DSA" }, "keyType: Unsupported value"},
		{"no paths", func(p *corev1.PodCertificateProjection) { p.CredentialBundlePath = "" },
			"specify at least one of credentialBundlePath"},
		{"escaping path", func(p *corev1.PodCertificateProjection) { p.KeyPath = "../key" }, "must not contain '..'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &corev1.PodCertificateProjection{SignerName: "example.com/s", KeyType: "ED25519", CredentialBundlePath: "creds.pem"}
			tt.mutate(src)
			pod := mustYAML[corev1.Pod](t, `
metadata: {name: web, namespace: default}
spec:
  containers: [{name: app, image: nginx}]
`)
			pod.Spec.Volumes = []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				Sources: []corev1.VolumeProjection{{PodCertificate: src}}}}}}
			got := create(podStrategy{}, pod).ToAggregate()
			switch {
			case tt.want == "" && got != nil:
				t.Errorf("rejected: %v", got)
			case tt.want != "" && (got == nil || !strings.Contains(got.Error(), tt.want)):
				t.Errorf("got %v, want %q", got, tt.want)
			}
		})
	}
}
