package csrsigning

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"

	"skiff/internal/pki"
)

func request(t *testing.T, cn string, orgs []string, dns []string, ips ...net.IP) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: cn, Organization: orgs}, DNSNames: dns, IPAddresses: ips}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

func csr(signer string, req []byte, user string, groups []string, usages ...certificatesv1.KeyUsage) *certificatesv1.CertificateSigningRequest {
	return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{
		SignerName: signer, Request: req, Username: user, Groups: groups, Usages: usages}}
}

func TestAutoApprovalAndIssue(t *testing.T) {
	ca, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	client := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth}
	nodes := map[string]bool{"taken": true}
	exists := func(n string) bool { return nodes[n] }
	boot := []string{"system:bootstrappers", "system:authenticated"}
	for _, tc := range []struct {
		name    string
		csr     *certificatesv1.CertificateSigningRequest
		approve bool
		issue   bool
	}{
		{"bootstrap token, new node", csr(certificatesv1.KubeAPIServerClientKubeletSignerName,
			request(t, "system:node:new", []string{"system:nodes"}, nil), "system:bootstrap:abcdef", boot, client...), true, true},
		{"bootstrap token, a node that exists", csr(certificatesv1.KubeAPIServerClientKubeletSignerName,
			request(t, "system:node:taken", []string{"system:nodes"}, nil), "system:bootstrap:abcdef", boot, client...), false, true},
		{"node renews itself", csr(certificatesv1.KubeAPIServerClientKubeletSignerName,
			request(t, "system:node:taken", []string{"system:nodes"}, nil), "system:node:taken", []string{"system:nodes"}, client...), true, true},
		{"bootstrap token asks for system:masters", csr(certificatesv1.KubeAPIServerClientKubeletSignerName,
			request(t, "system:node:new", []string{"system:masters"}, nil), "system:bootstrap:abcdef", boot, client...), false, false},
		{"kubelet client cert with SANs", csr(certificatesv1.KubeAPIServerClientKubeletSignerName,
			request(t, "system:node:new", []string{"system:nodes"}, []string{"kubernetes.default.svc"}), "system:bootstrap:abcdef", boot, client...), false, false},
		{"serving cert is never auto-approved", csr(certificatesv1.KubeletServingSignerName,
			request(t, "system:node:new", []string{"system:nodes"}, []string{"new"}, net.ParseIP("192.0.2.5")), "system:node:new", []string{"system:nodes"},
			certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if ok, _ := AutoApproval(tc.csr, exists); ok != tc.approve {
				t.Fatalf("auto-approved = %v, want %v", ok, tc.approve)
			}
			certPEM, err := Issue(ca, tc.csr)
			if (err == nil) != tc.issue {
				t.Fatalf("issue error = %v, want issued %v", err, tc.issue)
			}
			if err != nil {
				return
			}
			block, _ := pem.Decode(certPEM)
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := parseRequest(tc.csr.Spec.Request)
			if cert.Subject.CommonName != req.Subject.CommonName && tc.csr.Spec.SignerName != certificatesv1.KubeletServingSignerName {
				t.Fatalf("issued for %q", cert.Subject.CommonName)
			}
			if _, err := cert.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
				t.Fatal(err)
			}
		})
	}
}
