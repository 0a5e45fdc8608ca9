package apiserver

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
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
func NodeUser(node string) string { return auth.NodeUserPrefix + node }

// joinHandler signs a node's client certificate (CN system:node:<name>, O
// system:nodes) and serving certificate (its addresses and name), for a node name no
// other node holds and addresses that are the node's to claim.
func joinHandler(ca *pki.CA, a *API, serviceCIDR string) http.Handler {
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
		if err := a.checkJoin(req, serviceCIDR); err != nil {
			writeError(w, err)
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

// checkJoin refuses a join that would take over a node that already joined, or get a
// serving certificate for names that are not the node's: a DNS name other than the
// node name (kubernetes.default.svc, wildcards), a loopback or unspecified address,
// or an address of the service range (the kubernetes Service's among them).
func (a *API) checkJoin(req JoinRequest, serviceCIDR string) error {
	gr := schema.GroupResource{Resource: "nodes"}
	if _, ok := a.endpoints[corev1.SchemeGroupVersion.WithResource("nodes")].store.Peek("", req.NodeName); ok {
		return apierrors.NewForbidden(gr, req.NodeName, fmt.Errorf("node %q has already joined the cluster; "+
			"a join token cannot take over an existing node (delete the Node first to let it join again)", req.NodeName))
	}
	services, err := netip.ParsePrefix(serviceCIDR)
	if err != nil {
		return apierrors.NewInternalError(fmt.Errorf("service CIDR %q: %w", serviceCIDR, err))
	}
	for i, addr := range req.Addresses {
		ip, err := netip.ParseAddr(addr)
		why := ""
		switch {
		case err != nil:
			why = "is not an IP address: a node's serving certificate names only the node and its addresses"
		case ip.IsLoopback() || ip.IsUnspecified() || ip.IsMulticast():
			why = "is not an address of the node"
		case services.Contains(ip.Unmap()):
			why = "is in the service range " + serviceCIDR
		}
		if why != "" {
			return apierrors.NewForbidden(gr, req.NodeName, fmt.Errorf("addresses[%d] %q %s", i, addr, why))
		}
	}
	return nil
}

func parsePublicKey(p string) (crypto.PublicKey, error) {
	block, _ := pem.Decode([]byte(p))
	if block == nil {
		return nil, fmt.Errorf("not PEM")
	}
	return x509.ParsePKIXPublicKey(block.Bytes)
}
