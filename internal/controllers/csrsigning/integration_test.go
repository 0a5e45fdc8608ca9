package csrsigning_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/csrsigning"
	"skiff/internal/testserver"
)

func kubeletCSR(t *testing.T, name, node string) *certificatesv1.CertificateSigningRequest {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: certificatesv1.KubeAPIServerClientKubeletSignerName,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			Username:   "admin", Groups: []string{"system:masters"}, // ignored: the API records the requester
		}}
}

func as(cfg *rest.Config, user string, groups ...string) kubernetes.Interface {
	c := rest.CopyConfig(cfg)
	c.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: groups}
	return kubernetes.NewForConfigOrDie(c)
}

// waitFor polls the request until done holds.
func waitFor(t *testing.T, c kubernetes.Interface, name string, done func(*certificatesv1.CertificateSigningRequest) bool) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		csr, err := c.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && done(csr) {
			return csr
		}
		if time.Now().After(deadline) {
			t.Fatalf("csr %s: %v %+v", name, err, csr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestBootstrapTokenGetsANodeCertificate(t *testing.T) {
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc := controller.NewContext(srv.Client, 0)
	ctl := csrsigning.New(cc, srv.CA, "10.43.0.0/16")
	cc.Informers.Start(ctx.Done())
	go ctl.Run(ctx)

	boot := as(srv.Config, "system:bootstrap:abcdef", "system:bootstrappers")
	if _, err := boot.CertificatesV1().CertificateSigningRequests().Create(ctx, kubeletCSR(t, "new", "n1"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	csr := waitFor(t, srv.Client, "new", func(c *certificatesv1.CertificateSigningRequest) bool { return len(c.Status.Certificate) > 0 })
	if csr.Spec.Username != "system:bootstrap:abcdef" || strings.Join(csr.Spec.Groups, ",") != "system:bootstrappers,system:authenticated" {
		t.Fatalf("requester recorded as %q %q", csr.Spec.Username, csr.Spec.Groups)
	}
	block, _ := pem.Decode(csr.Status.Certificate)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.Subject.CommonName != "system:node:n1" {
		t.Fatalf("certificate %v %v", cert.Subject, err)
	}

	// Two joins racing for one new name: one certificate.
	for _, name := range []string{"race-a", "race-b"} {
		if _, err := boot.CertificatesV1().CertificateSigningRequests().Create(ctx, kubeletCSR(t, name, "n3"), metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(2 * time.Second)
	issued := 0
	for _, name := range []string{"race-a", "race-b"} {
		c, _ := srv.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, name, metav1.GetOptions{})
		if len(c.Status.Certificate) > 0 {
			issued++
		}
	}
	if issued != 1 {
		t.Fatalf("two requests for node n3: %d certificates issued, want 1", issued)
	}

	// A node that exists: pending until someone allowed to approve for the signer does.
	if _, err := srv.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n2"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // let the controller's node cache see it
	if _, err := boot.CertificatesV1().CertificateSigningRequests().Create(ctx, kubeletCSR(t, "taken", "n2"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	pending, _ := srv.Client.CertificatesV1().CertificateSigningRequests().Get(ctx, "taken", metav1.GetOptions{})
	if len(pending.Status.Conditions) > 0 {
		t.Fatalf("request for an existing node decided: %+v", pending.Status.Conditions)
	}
	approve := pending.DeepCopy()
	approve.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved,
		Status: corev1.ConditionTrue, Reason: "Test"}}
	_, err = boot.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, "taken", approve, metav1.UpdateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("a join token approved a request: %v", err)
	}
	// The requester cannot write the certificate either.
	forged := pending.DeepCopy()
	forged.Status.Certificate = csr.Status.Certificate
	if _, err := boot.CertificatesV1().CertificateSigningRequests().UpdateStatus(ctx, forged, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("a join token wrote a certificate: %v", err)
	}
	if _, err := srv.Client.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, "taken", approve, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, srv.Client, "taken", func(c *certificatesv1.CertificateSigningRequest) bool { return len(c.Status.Certificate) > 0 })
}
