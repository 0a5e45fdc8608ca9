package csrsigning

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"net/netip"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
	serving := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	nodes := map[string]*corev1.Node{"taken": node("taken", "192.0.2.5")}
	p := Policy{
		Node:        func(n string) (*corev1.Node, bool) { v, ok := nodes[n]; return v, ok },
		Claimed:     func(n, _ string) (string, bool) { return "csr-first", n == "claimed" },
		ServiceCIDR: netip.MustParsePrefix("10.96.0.0/12"),
	}
	boot := []string{"system:bootstrappers", "system:authenticated"}
	self := func(n string) (string, []string) {
		return "system:node:" + n, []string{"system:nodes", "system:authenticated"}
	}
	servingCSR := func(n string, dns []string, ips ...string) *certificatesv1.CertificateSigningRequest {
		var parsed []net.IP
		for _, ip := range ips {
			parsed = append(parsed, net.ParseIP(ip))
		}
		u, g := self(n)
		return csr(certificatesv1.KubeletServingSignerName, request(t, "system:node:"+n, []string{"system:nodes"}, dns, parsed...), u, g, serving...)
	}
	for _, tc := range []struct {
		name    string
		csr     *certificatesv1.CertificateSigningRequest
		verdict Verdict
		issue   bool
	}{
		{"bootstrap token, new node", csr(certificatesv1.KubeAPIServerClientKubeletSignerName,
			request(t, "system:node:new", []string{"system:nodes"}, nil), "system:bootstrap:abcdef", boot, client...), Approve, true},
		{"bootstrap token, a node that exists", csr(certificatesv1.KubeAPIServerClientKubeletSignerName,
			request(t, "system:node:taken", []string{"system:nodes"}, nil), "system:bootstrap:abcdef", boot, client...), Pending, true},
		{"bootstrap token, a name another request was approved for", csr(certificatesv1.KubeAPIServerClientKubeletSignerName,
			request(t, "system:node:claimed", []string{"system:nodes"}, nil), "system:bootstrap:abcdef", boot, client...), Pending, true},
		{"node renews itself", csr(certificatesv1.KubeAPIServerClientKubeletSignerName,
			request(t, "system:node:taken", []string{"system:nodes"}, nil), "system:node:taken", []string{"system:nodes"}, client...), Approve, true},
		{"bootstrap token asks for system:masters", csr(certificatesv1.KubeAPIServerClientKubeletSignerName,
			request(t, "system:node:new", []string{"system:masters"}, nil), "system:bootstrap:abcdef", boot, client...), Pending, false},
		{"kubelet client cert with SANs", csr(certificatesv1.KubeAPIServerClientKubeletSignerName,
			request(t, "system:node:new", []string{"system:nodes"}, []string{"kubernetes.default.svc"}), "system:bootstrap:abcdef", boot, client...), Pending, false},
		{"serving cert of a registered node, its own address", servingCSR("taken", []string{"taken"}, "192.0.2.5"), Approve, true},
		{"serving cert of a new node", servingCSR("new", []string{"new"}, "192.0.2.9"), Approve, true},
		{"serving cert for a new node on the machine of another", servingCSR("new", nil, "192.0.2.5"), Approve, true},
		{"serving cert for an address the node did not register", servingCSR("taken", nil, "192.0.2.6"), Deny, true},
		{"serving cert for kubernetes.default.svc", servingCSR("new", []string{"new", "kubernetes.default.svc"}, "192.0.2.9"), Deny, true},
		{"serving cert for a wildcard", servingCSR("new", []string{"*.new"}), Deny, true},
		{"serving cert for a service address", servingCSR("new", nil, "10.96.0.1"), Deny, true},
		{"serving cert for loopback", servingCSR("new", nil, "127.0.0.1"), Deny, true},
		{"serving cert asked by a join token", csr(certificatesv1.KubeletServingSignerName,
			request(t, "system:node:new", []string{"system:nodes"}, []string{"new"}), "system:bootstrap:abcdef", boot, serving...), Pending, true},
		{"serving cert asked for another node", csr(certificatesv1.KubeletServingSignerName,
			request(t, "system:node:taken", []string{"system:nodes"}, []string{"taken"}), "system:node:new", []string{"system:nodes"}, serving...), Pending, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := p.Decide(tc.csr); d.Verdict != tc.verdict || (d.Verdict == Deny && d.Message == "") {
				t.Fatalf("decision %+v, want verdict %v (a denial says why)", d, tc.verdict)
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

func node(name, ip string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Status: corev1.NodeStatus{Addresses: []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: ip}}}}
}
