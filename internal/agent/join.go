package agent

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
)

// JoinPath is the API server's join endpoint.
const JoinPath = "/skiff/v1/join"

// joinRequest and joinResponse are the join call's JSON bodies.
type joinRequest struct {
	NodeName            string   `json:"nodeName"`
	ClientPublicKeyPEM  string   `json:"clientPublicKeyPEM"`
	ServingPublicKeyPEM string   `json:"servingPublicKeyPEM"`
	Addresses           []string `json:"addresses"`
}

type joinResponse struct {
	ClientCertificatePEM  string `json:"clientCertificatePEM"`
	ServingCertificatePEM string `json:"servingCertificatePEM"`
	CAPEM                 string `json:"caPEM"`
}

// credentials are a node's identity: its client certificate for the API server, its
// serving certificate for the agent endpoint, and the cluster CA.
type credentials struct {
	CAPEM                 []byte
	ClientCert, ClientKey []byte
	Serving               tls.Certificate
}

func pkiDir(dataDir string) string { return filepath.Join(dataDir, "pki") }

// loadOrJoin reuses the credentials of an earlier join, or joins with the token. Keys
// are generated here and never leave the node; only public keys are sent.
func loadOrJoin(ctx context.Context, cfg Config) (*credentials, error) {
	dir := pkiDir(cfg.DataDir)
	if c, err := loadCredentials(dir, cfg.NodeName); err == nil {
		return c, nil
	}
	if cfg.Token == "" {
		return nil, errors.New("this node has not joined yet: pass --token (the server's <data-dir>/token)")
	}
	clientKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	servingKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	req := joinRequest{NodeName: cfg.NodeName, Addresses: []string{cfg.NodeIP}}
	if req.ClientPublicKeyPEM, err = publicPEM(clientKey); err != nil {
		return nil, err
	}
	if req.ServingPublicKeyPEM, err = publicPEM(servingKey); err != nil {
		return nil, err
	}
	resp, err := callJoin(ctx, cfg.Server, cfg.Token, req)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"ca.crt": []byte(resp.CAPEM), "client.crt": []byte(resp.ClientCertificatePEM),
		"serving.crt": []byte(resp.ServingCertificatePEM),
	}
	for name, key := range map[string]*ecdsa.PrivateKey{"client.key": clientKey, "serving.key": servingKey} {
		der, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			return nil, err
		}
		files[name] = pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return loadCredentials(dir, cfg.NodeName)
}

func publicPEM(k *ecdsa.PrivateKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// callJoin posts the join request. The agent has no CA yet, so the server's
// certificate cannot be verified before the call; it is checked against the CA
// the server returns, which catches a server that is not the cluster's.
func callJoin(ctx context.Context, server, token string, req joinRequest) (*joinResponse, error) {
	body, _ := json.Marshal(req)
	var peer []*x509.Certificate
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // verified below, against the returned CA
		VerifyConnection: func(cs tls.ConnectionState) error {
			peer = cs.PeerCertificates
			return nil
		},
	}}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, server+JoinPath, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hreq.Header.Set("Authorization", "Bearer "+token)
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", server, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("join %s: %s: %s", server, resp.Status, bytes.TrimSpace(data))
	}
	var out joinResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("join %s: bad answer: %w", server, err)
	}
	if err := verifyPeer(peer, []byte(out.CAPEM)); err != nil {
		return nil, fmt.Errorf("join %s: %w", server, err)
	}
	return &out, nil
}

func verifyPeer(chain []*x509.Certificate, caPEM []byte) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return errors.New("the join answer holds no CA certificate")
	}
	if len(chain) == 0 {
		return errors.New("server presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter}); err != nil {
		return fmt.Errorf("server certificate is not from the cluster CA it returned: %w", err)
	}
	return nil
}

// loadCredentials reads the files of an earlier join, refusing a client certificate
// that expired or was issued for another node name.
func loadCredentials(dir, node string) (*credentials, error) {
	read := func(n string) ([]byte, error) { return os.ReadFile(filepath.Join(dir, n)) }
	var c credentials
	var err error
	if c.CAPEM, err = read("ca.crt"); err != nil {
		return nil, err
	}
	if c.ClientCert, err = read("client.crt"); err != nil {
		return nil, err
	}
	if c.ClientKey, err = read("client.key"); err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(c.ClientCert, c.ClientKey)
	if err != nil {
		return nil, err
	}
	leaf := pair.Leaf
	if leaf == nil || time.Now().After(leaf.NotAfter) || leaf.Subject.CommonName != "system:node:"+node {
		return nil, errors.New("stored client certificate is expired or for another node")
	}
	if c.Serving, err = tls.LoadX509KeyPair(filepath.Join(dir, "serving.crt"), filepath.Join(dir, "serving.key")); err != nil {
		return nil, err
	}
	return &c, nil
}

// restConfig builds the node's API client configuration (protobuf, as kubelets talk).
func restConfig(server string, c *credentials) *rest.Config {
	return &rest.Config{
		Host: server,
		TLSClientConfig: rest.TLSClientConfig{
			CAData: c.CAPEM, CertData: c.ClientCert, KeyData: c.ClientKey,
		},
		ContentConfig: rest.ContentConfig{
			ContentType:        "application/vnd.kubernetes.protobuf",
			AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
		},
		UserAgent: "skiff-agent",
	}
}
