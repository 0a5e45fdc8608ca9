package agent

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"

	"skiff/internal/pki"
)

func TestParseFlags(t *testing.T) {
	cfg, err := ParseFlags([]string{"--server", "https://10.0.0.1:6443", "--token", "tok", "--data-dir", "/var/lib/n2",
		"--node-name", "n2", "--node-ip", "10.0.0.2", "--registry-mirror", "images.example,mirror.example", "--registry-mirror", "other.example",
		"--kubelet-port", "0", "--node-label", "zone=a", "--node-taint", "gpu=yes:NoSchedule", "--node-taint", "spot:PreferNoSchedule",
		"--eviction-hard", "memory.available<1Gi", "--eviction-pressure-transition-period", "30s"})
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Server: "https://10.0.0.1:6443", Token: "tok", DataDir: "/var/lib/n2", NodeName: "n2", NodeIP: "10.0.0.2",
		RegistryMirrors: []string{"images.example", "mirror.example", "other.example"}, KubeletPort: 0, ClusterCIDR: DefaultClusterCIDR,
		ServiceCIDR: DefaultServiceCIDR, ClusterDomain: DefaultClusterDomain, DNSPort: 53, IngressHTTPPort: 80, IngressHTTPSPort: 443,
		Labels: map[string]string{"zone": "a"}, EvictionHard: "memory.available<1Gi", EvictionPressureTransition: 30 * time.Second,
		Taints: []corev1.Taint{{Key: "gpu", Value: "yes", Effect: corev1.TaintEffectNoSchedule}, {Key: "spot", Effect: corev1.TaintEffectPreferNoSchedule}}}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	for _, bad := range [][]string{
		{"--server", "https://x", "--node-taint", "gpu=yes"},
		{"--server", "https://x", "--node-taint", "gpu=yes:Sometimes"},
		{"--server", "https://x", "--node-label", "novalue"},
		{"--server", "https://x", "--eviction-hard", "memory.available>1Gi"},
	} {
		if _, err := ParseFlags(bad); err == nil {
			t.Errorf("ParseFlags(%v) accepted", bad)
		}
	}
}

// TestJoin runs the join client against a stand-in endpoint that signs with a real CA,
// then checks the stored credentials are reused without a token.
func TestJoin(t *testing.T) {
	ca, err := pki.LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.ServingCert(t.TempDir(), "apiserver", []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	hs := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		if r.URL.Path != JoinPath || r.Header.Get("Authorization") != "Bearer secret" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		var req joinRequest
		_ = json.NewDecoder(r.Body).Decode(&req)
		block, _ := pem.Decode([]byte(req.ClientPublicKeyPEM))
		pub, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		client, _ := ca.SignClient(pub.(*ecdsa.PublicKey), "system:node:"+req.NodeName, []string{"system:nodes"}, 0)
		block, _ = pem.Decode([]byte(req.ServingPublicKeyPEM))
		spub, _ := x509.ParsePKIXPublicKey(block.Bytes)
		serving, _ := ca.SignServing(spub, req.NodeName, append([]string{req.NodeName}, req.Addresses...), 0)
		_ = json.NewEncoder(w).Encode(joinResponse{ClientCertificatePEM: string(client), ServingCertificatePEM: string(serving), CAPEM: string(ca.CertPEM)})
	}))
	hs.StartTLS()
	defer hs.Close()
	_ = cert
	cfg := Config{Server: hs.URL, Token: "secret", DataDir: t.TempDir(), NodeName: "n2", NodeIP: "127.0.0.1"}
	// The stand-in serves httptest's own certificate, not one from the cluster CA: the
	// client must refuse it.
	if _, err := loadOrJoin(context.Background(), cfg); err == nil {
		t.Fatal("join accepted a server whose certificate is not from the returned CA")
	}
	hs.Close()
	hs2 := httptest.NewUnstartedServer(hs.Config.Handler)
	hs2.TLS = tlsConfig(cert)
	hs2.StartTLS()
	defer hs2.Close()
	cfg.Server = hs2.URL
	creds, err := loadOrJoin(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	rc := restConfig(cfg.Server, creds)
	if rc.ContentType != "application/vnd.kubernetes.protobuf" || len(rc.CertData) == 0 {
		t.Errorf("rest config %+v", rc)
	}
	cfg.Token = ""
	before := calls
	if _, err := loadOrJoin(context.Background(), cfg); err != nil || calls != before {
		t.Errorf("second start: err %v, join calls %d->%d; want stored credentials reused", err, before, calls)
	}
}

func tlsConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}
