package agent

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/csrsigning"
	"skiff/internal/testserver"
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
		{"--server", "https://x", "--node-label", "node-role.kubernetes.io/control-plane="},
		{"--server", "https://x", "--node-label", "node-restriction.kubernetes.io/trusted=yes"},
		{"--server", "https://x", "--eviction-hard", "memory.available>1Gi"},
	} {
		if _, err := ParseFlags(bad); err == nil {
			t.Errorf("ParseFlags(%v) accepted", bad)
		}
	}
}

// TestJoin joins through the certificates API of a real API server, with the
// approver and signer running: the CA from cluster-info, a client certificate for
// the join token's request, a serving certificate for the node's, reuse of the
// stored files without a token, and a renewal made with the current certificate.
func TestJoin(t *testing.T) {
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cc := controller.NewContext(srv.Client, 0)
	approver := csrsigning.New(cc, srv.CA, "10.43.0.0/16")
	cc.Informers.Start(ctx.Done())
	go approver.Run(ctx)

	// A server whose certificate is not from the CA it hands out is refused.
	fake := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cm, _ := srv.Client.CoreV1().ConfigMaps("kube-public").Get(r.Context(), "cluster-info", metav1.GetOptions{})
		_ = json.NewEncoder(w).Encode(cm)
	}))
	defer fake.Close()
	cfg := Config{Server: fake.URL, Token: srv.Token, DataDir: t.TempDir(), NodeName: "n2", NodeIP: "192.0.2.2"}
	if _, err := loadOrJoin(ctx, cfg); err == nil || !strings.Contains(err.Error(), "not from the cluster CA") {
		t.Fatalf("join accepted a server whose certificate is not from the cluster CA: %v", err)
	}

	cfg.Server = srv.Config.Host
	creds, err := loadOrJoin(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cn := creds.Client.Subject.CommonName; cn != "system:node:n2" {
		t.Fatalf("client certificate for %q", cn)
	}
	if s := creds.Serving.Leaf; s == nil || fmt.Sprint(s.DNSNames, s.IPAddresses) != "[n2] [192.0.2.2]" {
		t.Fatalf("serving certificate names %v %v", s.DNSNames, s.IPAddresses)
	}
	dir := pkiDir(cfg.DataDir)
	who := func() string {
		rc := restConfig(cfg.Server, dir, creds.CAPEM)
		rc.ContentType = "application/json"
		r, err := kubernetes.NewForConfigOrDie(rc).AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status.UserInfo.Username
	}
	if u := who(); u != "system:node:n2" {
		t.Fatalf("the node authenticates as %q", u)
	}

	cfg.Token = ""
	again, err := loadOrJoin(ctx, cfg)
	if err != nil || !again.Client.Equal(creds.Client) {
		t.Fatalf("second start: %v; want the stored certificate reused", err)
	}

	if err := renewClient(ctx, cfg.Server, dir, cfg.NodeName, creds.CAPEM); err != nil {
		t.Fatal(err)
	}
	renewed, err := loadClient(dir, cfg.NodeName)
	if err != nil || renewed.SerialNumber.Cmp(creds.Client.SerialNumber) == 0 {
		t.Fatalf("renewal: %v; serial %v, was %v", err, renewed.SerialNumber, creds.Client.SerialNumber)
	}
	if u := who(); u != "system:node:n2" {
		t.Fatalf("after renewal the node authenticates as %q", u)
	}
}

func TestRenewAtFourFifths(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := &x509.Certificate{NotBefore: start, NotAfter: start.Add(100 * time.Hour)}
	if got := renewAt(c); !got.Equal(start.Add(80 * time.Hour)) {
		t.Fatalf("renewAt = %v", got)
	}
}
