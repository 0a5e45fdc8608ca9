package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"strings"

	"k8s.io/client-go/rest"

	"skiff/internal/agent"
	"skiff/internal/apiserver"
)

// nodeCredentials issues the server's own node what a joining agent gets from the
// join call: a client certificate as system:node:<name> and a serving certificate.
func nodeCredentials(srv *apiserver.Server, ac agent.Config) (*tls.Certificate, *rest.Config, error) {
	name := ac.NodeName
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, nil, err
		}
		name = strings.ToLower(h)
	}
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	servingKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	resp, err := apiserver.Join(srv.CA, apiserver.JoinRequest{
		NodeName: name, ClientPublicKeyPEM: publicPEM(&clientKey.PublicKey),
		ServingPublicKeyPEM: publicPEM(&servingKey.PublicKey), Addresses: localAddresses(ac.NodeIP),
	})
	if err != nil {
		return nil, nil, err
	}
	serving, err := tls.X509KeyPair([]byte(resp.ServingCertificatePEM), privatePEM(servingKey))
	if err != nil {
		return nil, nil, err
	}
	rc := &rest.Config{
		Host: "https://" + srv.Addr,
		TLSClientConfig: rest.TLSClientConfig{CAData: srv.CA.CertPEM,
			CertData: []byte(resp.ClientCertificatePEM), KeyData: privatePEM(clientKey)},
		UserAgent: "skiff-agent/" + name,
	}
	return &serving, rc, nil
}

func publicPEM(k *ecdsa.PublicKey) string {
	der, _ := x509.MarshalPKIXPublicKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func privatePEM(k *ecdsa.PrivateKey) []byte {
	der, _ := x509.MarshalECPrivateKey(k)
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// localAddresses are the machine's IPv4 addresses (and the configured node IP), which
// the node's serving certificate must cover.
func localAddresses(nodeIP string) []string {
	out := []string{"127.0.0.1"}
	if nodeIP != "" {
		out = append(out, nodeIP)
	}
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			out = append(out, ipn.IP.String())
		}
	}
	return out
}
