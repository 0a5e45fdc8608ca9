package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/certificate/csr"

	"skiff/internal/auth"
)

// A node joins as a kubelet bootstraps in Kubernetes: with its join token it reads
// the cluster CA from kube-public/cluster-info and asks, through a
// CertificateSigningRequest, for a client certificate as system:node:<name>; with
// that certificate it asks for its serving certificate, and later renews the client
// certificate the same way. Keys are made here and never leave the node; the
// cluster's approver decides what each request gets.

// Files under <data-dir>/pki. The client certificate and its key share one file, so
// a renewal replaces both at once and the API clients, which reread the file, never
// see a certificate with the wrong key.
const (
	caFile         = "ca.crt"
	clientFile     = "client.pem"
	servingCrtFile = "serving.crt"
	servingKeyFile = "serving.key"
)

// approvalTimeout bounds the wait for a request to be approved and signed.
const approvalTimeout = 10 * time.Minute

// credentials are a node's identity: its client certificate for the API server (in
// ClientFile), its serving certificate for the agent endpoint, and the cluster CA.
type credentials struct {
	CAPEM      []byte
	ClientFile string
	Client     *x509.Certificate
	Serving    tls.Certificate
}

func pkiDir(dataDir string) string { return filepath.Join(dataDir, "pki") }

// loadOrJoin reuses the credentials of an earlier join, or joins with the token. A
// serving certificate that is missing or in the last fifth of its life is asked for
// again with the client certificate.
func loadOrJoin(ctx context.Context, cfg Config) (*credentials, error) {
	dir := pkiDir(cfg.DataDir)
	if _, err := loadClient(dir, cfg.NodeName); err != nil {
		if cfg.Token == "" {
			return nil, fmt.Errorf("this node has not joined yet (%v): pass --token (the server's <data-dir>/token, or one from `skiff token create`)", err)
		}
		if err := bootstrapClient(ctx, cfg, dir); err != nil {
			return nil, err
		}
	}
	if leaf, err := readLeaf(filepath.Join(dir, servingCrtFile)); err != nil || !time.Now().Before(renewAt(leaf)) {
		if err := requestServing(ctx, cfg, dir); err != nil {
			return nil, err
		}
	}
	return loadCredentials(dir, cfg.NodeName)
}

// bootstrapClient trades the join token for the node's client certificate.
func bootstrapClient(ctx context.Context, cfg Config, dir string) error {
	caPEM, err := discoverCA(ctx, cfg.Server, cfg.Token)
	if err != nil {
		return err
	}
	boot, err := kubernetes.NewForConfig(&rest.Config{Host: cfg.Server, BearerToken: cfg.Token,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM}, UserAgent: "skiff-agent-bootstrap"})
	if err != nil {
		return err
	}
	pair, err := requestCertificate(ctx, boot, clientTemplate(cfg.NodeName), certificatesv1.KubeAPIServerClientKubeletSignerName,
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth})
	if err != nil {
		return fmt.Errorf("join as node %s: %w", cfg.NodeName, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(dir, caFile), caPEM); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, clientFile), pair)
}

// requestServing asks, as the node, for a serving certificate naming the node and
// its address.
func requestServing(ctx context.Context, cfg Config, dir string) error {
	caPEM, err := os.ReadFile(filepath.Join(dir, caFile))
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(restConfig(cfg.Server, dir, caPEM))
	if err != nil {
		return err
	}
	tmpl := clientTemplate(cfg.NodeName)
	tmpl.DNSNames = []string{cfg.NodeName}
	if ip := net.ParseIP(cfg.NodeIP); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	}
	pair, err := requestCertificate(ctx, cs, tmpl, certificatesv1.KubeletServingSignerName,
		[]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth})
	if err != nil {
		return fmt.Errorf("serving certificate for node %s: %w", cfg.NodeName, err)
	}
	certPEM, keyPEM := splitPEM(pair)
	if err := writeAtomic(filepath.Join(dir, servingKeyFile), keyPEM); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(dir, servingCrtFile), certPEM)
}

func clientTemplate(node string) *x509.CertificateRequest {
	return &x509.CertificateRequest{Subject: pkix.Name{CommonName: auth.NodeUserPrefix + node, Organization: []string{auth.Nodes}}}
}

// requestCertificate makes a key, asks for a certificate for it through a
// CertificateSigningRequest, and waits until it is issued (or denied). It returns
// the certificate and key in one PEM.
func requestCertificate(ctx context.Context, cs kubernetes.Interface, tmpl *x509.CertificateRequest, signer string, usages []certificatesv1.KeyUsage) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, err
	}
	csrPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	name, uid, err := csr.RequestCertificateWithContext(ctx, cs, csrPEM, "", signer, nil, usages, key)
	if err != nil {
		return nil, err
	}
	slog.Info("waiting for the certificate signing request to be approved and signed", "csr", name, "signer", signer)
	wctx, cancel := context.WithTimeout(ctx, approvalTimeout)
	defer cancel()
	certPEM, err := csr.WaitForCertificate(wctx, cs, name, uid)
	if err != nil {
		if wctx.Err() != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("certificate signing request %s was not approved within %s; an administrator may approve it "+
				"(kubectl certificate approve %s); a node name already in use is never approved automatically", name, approvalTimeout, name)
		}
		return nil, fmt.Errorf("certificate signing request %s: %w", name, err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...), nil
}

// discoverCA reads the cluster CA from kube-public/cluster-info with the join token.
// The agent has no CA yet, so the server's certificate cannot be verified before
// the call; it is checked against the CA the server returns, which catches a server
// that is not the cluster's.
func discoverCA(ctx context.Context, server, token string) ([]byte, error) {
	var peer []*x509.Certificate
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // verified below, against the returned CA
		MinVersion:         tls.VersionTLS12,
		VerifyConnection: func(cs tls.ConnectionState) error {
			peer = cs.PeerCertificates
			return nil
		},
	}}}
	url := server + "/api/v1/namespaces/" + auth.ClusterInfoNamespace + "/configmaps/" + auth.ClusterInfoName
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("join %s: %w", server, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("join %s: reading the cluster CA: %s: %s", server, resp.Status, data)
	}
	var cm corev1.ConfigMap
	if err := json.Unmarshal(data, &cm); err != nil {
		return nil, fmt.Errorf("join %s: bad cluster-info: %w", server, err)
	}
	kc, err := clientcmd.Load([]byte(cm.Data["kubeconfig"]))
	if err != nil || len(kc.Clusters) != 1 {
		return nil, fmt.Errorf("join %s: cluster-info holds no single cluster (%v)", server, err)
	}
	var caPEM []byte
	for _, cl := range kc.Clusters {
		caPEM = cl.CertificateAuthorityData
	}
	if err := verifyPeer(peer, caPEM); err != nil {
		return nil, fmt.Errorf("join %s: %w", server, err)
	}
	return caPEM, nil
}

func verifyPeer(chain []*x509.Certificate, caPEM []byte) error {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return errors.New("cluster-info holds no CA certificate")
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

// loadClient reads the node's client certificate, refusing one that expired or was
// issued for another node name.
func loadClient(dir, node string) (*x509.Certificate, error) {
	migrateClientFiles(dir)
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, clientFile), filepath.Join(dir, clientFile))
	if err != nil {
		return nil, err
	}
	if leaf := pair.Leaf; leaf == nil || time.Now().After(leaf.NotAfter) || leaf.Subject.CommonName != auth.NodeUserPrefix+node {
		return nil, errors.New("the stored client certificate is expired or for another node")
	}
	return pair.Leaf, nil
}

// migrateClientFiles joins the client.crt and client.key of a node that joined with
// an older skiff into client.pem.
func migrateClientFiles(dir string) {
	if _, err := os.Stat(filepath.Join(dir, clientFile)); !errors.Is(err, os.ErrNotExist) {
		return
	}
	cert, err1 := os.ReadFile(filepath.Join(dir, "client.crt"))
	key, err2 := os.ReadFile(filepath.Join(dir, "client.key"))
	if err1 == nil && err2 == nil && writeAtomic(filepath.Join(dir, clientFile), append(cert, key...)) == nil {
		os.Remove(filepath.Join(dir, "client.crt"))
		os.Remove(filepath.Join(dir, "client.key"))
	}
}

// loadCredentials reads the files of an earlier join.
func loadCredentials(dir, node string) (*credentials, error) {
	c := credentials{ClientFile: filepath.Join(dir, clientFile)}
	var err error
	if c.CAPEM, err = os.ReadFile(filepath.Join(dir, caFile)); err != nil {
		return nil, err
	}
	if c.Client, err = loadClient(dir, node); err != nil {
		return nil, err
	}
	if c.Serving, err = tls.LoadX509KeyPair(filepath.Join(dir, servingCrtFile), filepath.Join(dir, servingKeyFile)); err != nil {
		return nil, err
	}
	return &c, nil
}

// restConfig builds the node's API client configuration (protobuf, as kubelets talk).
// The client certificate is read from its file, and reread by client-go, so the API
// clients follow a renewal.
func restConfig(server, dir string, caPEM []byte) *rest.Config {
	f := filepath.Join(dir, clientFile)
	return &rest.Config{
		Host:            server,
		TLSClientConfig: rest.TLSClientConfig{CAData: caPEM, CertFile: f, KeyFile: f},
		ContentConfig: rest.ContentConfig{
			ContentType:        "application/vnd.kubernetes.protobuf",
			AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
		},
		UserAgent: "skiff-agent",
	}
}

func readLeaf(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM", path)
	}
	return x509.ParseCertificate(block.Bytes)
}

// splitPEM separates a certificate-and-key PEM into the certificate and the key.
func splitPEM(pair []byte) (certPEM, keyPEM []byte) {
	for rest := pair; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return certPEM, keyPEM
		}
		if block.Type == "CERTIFICATE" {
			certPEM = append(certPEM, pem.EncodeToMemory(block)...)
		} else {
			keyPEM = append(keyPEM, pem.EncodeToMemory(block)...)
		}
	}
}

// writeAtomic replaces path with data (mode 0600) in one rename.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
