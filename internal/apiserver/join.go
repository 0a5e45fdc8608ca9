package apiserver

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/validation"

	"skiff/internal/auth"
	"skiff/internal/pki"
)

// JoinRequest names the server's own node and its keys: public keys only; private
// keys never leave the node. (Other machines join through certificate signing
// requests; see internal/agent/join.go.)
type JoinRequest struct {
	NodeName            string   `json:"nodeName"`
	ClientPublicKeyPEM  string   `json:"clientPublicKeyPEM"`
	ServingPublicKeyPEM string   `json:"servingPublicKeyPEM"`
	Addresses           []string `json:"addresses"`
}

// JoinResponse carries the node's certificates and the cluster CA.
type JoinResponse struct {
	ClientCertificatePEM  string `json:"clientCertificatePEM"`
	ServingCertificatePEM string `json:"servingCertificatePEM"`
	CAPEM                 string `json:"caPEM"`
}

// NodeUser is the identity a node's client certificate carries.
func NodeUser(node string) string { return auth.NodeUserPrefix + node }

// Join issues the certificates of the server's own node, which holds the CA and
// needs no join token.
func Join(ca *pki.CA, req JoinRequest) (*JoinResponse, error) {
	if errs := validation.IsDNS1123Subdomain(req.NodeName); len(errs) > 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("nodeName %q: %v", req.NodeName, errs))
	}
	clientKey, err := parsePublicKey(req.ClientPublicKeyPEM)
	if err != nil {
		return nil, apierrors.NewBadRequest("clientPublicKeyPEM: " + err.Error())
	}
	servingKey, err := parsePublicKey(req.ServingPublicKeyPEM)
	if err != nil {
		return nil, apierrors.NewBadRequest("servingPublicKeyPEM: " + err.Error())
	}
	client, err := ca.SignClient(clientKey, NodeUser(req.NodeName), []string{auth.Nodes, auth.ControlPlaneNodes}, 0)
	if err != nil {
		return nil, err
	}
	serving, err := ca.SignServing(servingKey, req.NodeName, append([]string{req.NodeName}, req.Addresses...), 0)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return &JoinResponse{ClientCertificatePEM: string(client), ServingCertificatePEM: string(serving), CAPEM: string(ca.CertPEM)}, nil
}

func parsePublicKey(p string) (crypto.PublicKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, fmt.Errorf("not PEM")
	}
	return x509.ParsePKIXPublicKey(block.Bytes)
}

// csrRequester reads who made a certificate signing request, from the cache (a join
// token reads only its own).
func (a *API) csrRequester(name string) (string, bool) {
	obj, ok := a.endpoints[certificatesv1.SchemeGroupVersion.WithResource("certificatesigningrequests")].store.Peek("", name)
	if !ok {
		return "", false
	}
	if csr, ok := obj.(*certificatesv1.CertificateSigningRequest); ok {
		return csr.Spec.Username, true
	}
	return "", false
}
