package serverjoin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Joined reports whether dataDir holds an etcd member already: a server joins once,
// and restarts as the member it became.
func Joined(etcdDir string) bool {
	_, err := os.Stat(filepath.Join(etcdDir, "data"))
	return err == nil
}

// Join asks server to admit this server, writes the cluster's shared files into
// dataDir and returns the etcd membership to start with. The server's CA is
// checked against the token's hash before the token is sent, so a server of
// another cluster (or a man in the middle) learns nothing.
func Join(ctx context.Context, server, tok string, req Request, dataDir, serviceCIDR, clusterCIDR string) (string, error) {
	t, err := parseToken(tok)
	if err != nil {
		return "", err
	}
	server = strings.TrimSuffix(server, "/")
	ca, err := fetch(ctx, insecureClient(), http.MethodGet, server+CACertsPath, "", nil)
	if err != nil {
		return "", fmt.Errorf("join %s: read its CA: %w", server, err)
	}
	if !t.matchesCA(ca) {
		return "", fmt.Errorf("join %s: that server belongs to another cluster (its CA does not match the token's hash); nothing was sent to it", server)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return "", fmt.Errorf("join %s: its CA is not a PEM certificate", server)
	}
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	body, _ := json.Marshal(req)
	data, err := fetch(ctx, client, http.MethodPost, server+Path, t.secret, body)
	if err != nil {
		return "", fmt.Errorf("join %s: %w", server, err)
	}
	var resp Response
	if err := json.Unmarshal(data, &resp); err != nil {
		return "", fmt.Errorf("join %s: %w", server, err)
	}
	if resp.ServiceCIDR != serviceCIDR || resp.ClusterCIDR != clusterCIDR {
		return "", fmt.Errorf("join %s: the cluster uses --service-cidr %s --cluster-cidr %s; start this server with the same", server, resp.ServiceCIDR, resp.ClusterCIDR)
	}
	if err := writeShared(dataDir, resp.Files); err != nil {
		return "", err
	}
	return resp.InitialCluster, nil
}

// writeShared writes the shared files, refusing a data dir that already holds
// another cluster's CA.
func writeShared(dataDir string, files map[string][]byte) error {
	if old, err := os.ReadFile(filepath.Join(dataDir, "tls", "ca.crt")); err == nil && !bytes.Equal(old, files["tls/ca.crt"]) {
		return fmt.Errorf("%s holds another cluster's CA: a joining server needs a fresh data dir", dataDir)
	}
	for _, name := range SharedFiles {
		data, ok := files[name]
		if !ok {
			return fmt.Errorf("the server sent no %s", name)
		}
		path := filepath.Join(dataDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		perm := os.FileMode(0o600)
		if strings.HasSuffix(name, ".crt") {
			perm = 0o644
		}
		if err := os.WriteFile(path, data, perm); err != nil {
			return err
		}
	}
	return nil
}

// insecureClient reads only the CA certificate, which is public and checked
// against the token's hash before anything secret is sent.
func insecureClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}}} //nolint:gosec // see above
}

func fetch(ctx context.Context, c *http.Client, method, url, bearer string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return data, nil
	}
	var st metav1.Status
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &st) == nil && st.Message != "" {
		msg = st.Message
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return nil, errors.New("the server refused the token (" + msg + "): pass the first server's <data-dir>/server-join-token")
	}
	return nil, fmt.Errorf("%s %s: HTTP %d: %s", method, url, resp.StatusCode, msg)
}
