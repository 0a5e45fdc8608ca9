package apiserver

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	"skiff/internal/auth"
	"skiff/internal/pki"
)

// JoinPath is where agents trade the join token for their certificates.
const JoinPath = "/skiff/v1/join"

// JoinRequest is what a joining agent sends: public keys only; private keys never
// leave the node.
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
func NodeUser(node string) string { return "system:node:" + node }

// joinHandler signs a node's client certificate (CN system:node:<name>, O
// system:nodes) and serving certificate (its addresses and name).
func joinHandler(ca *pki.CA) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeError(w, apierrors.NewMethodNotSupported(schema.GroupResource{Resource: "join"}, r.Method))
			return
		}
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		var req JoinRequest
		if err := json.Unmarshal(body, &req); err != nil {
			writeError(w, apierrors.NewBadRequest("join request: "+err.Error()))
			return
		}
		resp, err := Join(ca, req)
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, resp)
	})
}

// Join issues a node's certificates; `skiff server` calls it directly for its own node.
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
	client, err := ca.SignClient(clientKey, NodeUser(req.NodeName), []string{auth.Nodes}, 0)
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
