// Package csrsigning approves and signs CertificateSigningRequests as Kubernetes'
// csrapproving and csrsigning controllers do (see approve.go for what is approved
// without a person); approved requests for the kubernetes.io signers are signed by
// the cluster CA. Everything else waits for `kubectl certificate approve`.
package csrsigning

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// Signer issues certificates from the cluster CA (pki.CA).
type Signer interface {
	SignClient(pub crypto.PublicKey, user string, groups []string, validity time.Duration) ([]byte, error)
	SignServing(pub crypto.PublicKey, name string, hosts []string, validity time.Duration) ([]byte, error)
}

const (
	nodeUserPrefix = "system:node:"
	nodesGroup     = "system:nodes"
	bootstrappers  = "system:bootstrappers"
)

// errNotOurs marks requests for signers this controller does not serve.
var errNotOurs = errors.New("not a kubernetes.io signer")

// Issue signs an approved request with signer, or says why it may not be signed.
func Issue(ca Signer, csr *certificatesv1.CertificateSigningRequest) ([]byte, error) {
	req, err := parseRequest(csr.Spec.Request)
	if err != nil {
		return nil, err
	}
	var validity time.Duration
	if s := csr.Spec.ExpirationSeconds; s != nil {
		validity = time.Duration(*s) * time.Second
	}
	switch csr.Spec.SignerName {
	case certificatesv1.KubeAPIServerClientKubeletSignerName:
		if err := kubeletRequest(req, csr.Spec.Usages, certificatesv1.UsageClientAuth); err != nil {
			return nil, err
		}
		if len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs) > 0 {
			return nil, errors.New("a kubelet client certificate may not carry subject alternative names")
		}
		return ca.SignClient(req.PublicKey, req.Subject.CommonName, req.Subject.Organization, validity)
	case certificatesv1.KubeletServingSignerName:
		if err := kubeletRequest(req, csr.Spec.Usages, certificatesv1.UsageServerAuth); err != nil {
			return nil, err
		}
		if len(req.EmailAddresses)+len(req.URIs) > 0 || len(req.DNSNames)+len(req.IPAddresses) == 0 {
			return nil, errors.New("a kubelet serving certificate names DNS names or IP addresses, and only those")
		}
		hosts := slices.Clone(req.DNSNames)
		for _, ip := range req.IPAddresses {
			hosts = append(hosts, ip.String())
		}
		return ca.SignServing(req.PublicKey, strings.TrimPrefix(req.Subject.CommonName, nodeUserPrefix), hosts, validity)
	case certificatesv1.KubeAPIServerClientSignerName:
		if !slices.Contains(csr.Spec.Usages, certificatesv1.UsageClientAuth) || slices.Contains(csr.Spec.Usages, certificatesv1.UsageServerAuth) {
			return nil, errors.New("a client certificate needs the client auth usage, and not server auth")
		}
		return ca.SignClient(req.PublicKey, req.Subject.CommonName, req.Subject.Organization, validity)
	}
	return nil, errNotOurs
}

// kubeletRequest checks the subject and usages Kubernetes requires of kubelet
// certificates: CN system:node:NAME, O exactly system:nodes, and the one extended
// usage (with digital signature and key encipherment allowed).
func kubeletRequest(req *x509.CertificateRequest, usages []certificatesv1.KeyUsage, ext certificatesv1.KeyUsage) error {
	if !strings.HasPrefix(req.Subject.CommonName, nodeUserPrefix) || len(req.Subject.CommonName) == len(nodeUserPrefix) {
		return fmt.Errorf("subject common name %q does not start with %q", req.Subject.CommonName, nodeUserPrefix)
	}
	if !slices.Equal(req.Subject.Organization, []string{nodesGroup}) {
		return fmt.Errorf("subject organization %q is not [%q]", req.Subject.Organization, nodesGroup)
	}
	if !slices.Contains(usages, ext) {
		return fmt.Errorf("usages %q lack %q", usages, ext)
	}
	for _, u := range usages {
		if u != ext && u != certificatesv1.UsageDigitalSignature && u != certificatesv1.UsageKeyEncipherment {
			return fmt.Errorf("usage %q is not allowed for this signer", u)
		}
	}
	return nil
}

func parseRequest(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, errors.New("spec.request is not a PEM CERTIFICATE REQUEST")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, err
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("request signature: %w", err)
	}
	return req, nil
}
