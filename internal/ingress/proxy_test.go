package ingress

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// testCert makes a self-signed certificate for names, as a kubernetes.io/tls
// Secret and as a pool that trusts it.
func testCert(t *testing.T, secretName string, names ...string) (*corev1.Secret, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: secretName},
		Type:       corev1.SecretTypeTLS,
		Data: map[string][]byte{
			corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		},
	}, pool
}

func TestTLSBySNIAndRedirect(t *testing.T) {
	_, p := backendServer(t, "secure")
	secret, pool := testCert(t, "secure-tls", "secure.example.com")
	ing := ingressObj("secure", time.Unix(1, 0),
		rule("secure.example.com", path("/", networkingv1.PathTypePrefix, "web")),
		rule("plain.example.com", path("/", networkingv1.PathTypePrefix, "web")))
	ing.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"secure.example.com"}, SecretName: "secure-tls"}}
	h := start(t, append(exposed("web", 80, p), secret, ing)...)

	// The secret's certificate, verified against it, for its name.
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "secure.example.com"},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, h.https)
		},
	}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("https://secure.example.com/page")
	if err != nil {
		t.Fatalf("HTTPS with the secret's certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("X-Seen-Proto") != "https" {
		t.Errorf("HTTPS: %d, X-Forwarded-Proto %q", resp.StatusCode, resp.Header.Get("X-Seen-Proto"))
	}

	// Another name gets the self-signed default certificate.
	conn, err := tls.Dial("tcp", h.https, &tls.Config{ServerName: "unknown.example.com", InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "skiff-ingress-default" {
		t.Errorf("unknown SNI served %q, want the default certificate", cn)
	}
	conn.Close()

	// HTTP to a TLS host is redirected, keeping path and query; other hosts are not.
	resp, _ = h.get(t, "secure.example.com", "/page?q=1")
	want := "https://secure.example.com:" + strings.Split(h.https, ":")[1] + "/page?q=1"
	if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Errorf("redirect: %d to %q, want 308 to %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}
	if resp, _ := h.get(t, "plain.example.com", "/page"); resp.StatusCode != 200 {
		t.Errorf("host without TLS: %d, want 200 over HTTP", resp.StatusCode)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "upgrade expected", http.StatusBadRequest)
			return
		}
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		brw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		for { // echo lines in upper case until the client hangs up
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			brw.WriteString(strings.ToUpper(line))
			brw.Flush()
		}
	}))
	defer ws.Close()
	ing := ingressObj("ws", time.Unix(1, 0), rule("", path("/ws", networkingv1.PathTypePrefix, "ws")))
	h := start(t, append(exposed("ws", 80, portOf(t, ws.Listener.Addr().String())), ing)...)

	conn, err := net.DialTimeout("tcp", h.http, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprint(conn, "GET /ws HTTP/1.1\r\nHost: chat.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d", resp.StatusCode)
	}
	for _, msg := range []string{"hello\n", "through the ingress\n"} {
		fmt.Fprint(conn, msg)
		got, err := br.ReadString('\n')
		if err != nil || got != strings.ToUpper(msg) {
			t.Fatalf("echo of %q: %q, %v", msg, got, err)
		}
	}
}

func TestStreamingIsNotBuffered(t *testing.T) {
	release := make(chan struct{})
	stream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-ndjson") // not event-stream, which the proxy always flushes
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: second\n\n")
	}))
	defer stream.Close()
	defer close(release)
	ing := ingressObj("sse", time.Unix(1, 0), rule("", path("/events", networkingv1.PathTypeExact, "sse")))
	h := start(t, append(exposed("sse", 80, portOf(t, stream.Listener.Addr().String())), ing)...)

	resp, err := h.clientFor(h.http).Get("http://x/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(resp.Body).ReadString('\n')
		got <- line
	}()
	select {
	case line := <-got:
		if line != "data: first\n" {
			t.Errorf("first event %q", line)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("first event held back by the proxy while the backend streams")
	}
}

func TestRetriesAnotherEndpointWhenOneIsDead(t *testing.T) {
	_, live := backendServer(t, "live")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := portOf(t, dead.Addr().String())
	dead.Close() // connections to it are refused
	svc := svcObj("default", "web", 80, "")
	ing := ingressObj("web", time.Unix(1, 0), rule("", path("/", networkingv1.PathTypePrefix, "web")))
	h := start(t, svc, sliceObj("default", "web", "", deadPort, "127.0.0.1"), sliceObj("default", "web", "", live, "127.0.0.1"), ing)

	eventually(t, "both endpoints in the table", func() bool {
		b := h.c.table.Load().match("x", "/")
		return b != nil && len(b.endpoints) == 2
	})
	for i := range 10 { // round-robin sends every other first attempt to the dead one
		if resp, body := h.get(t, "x", "/"); resp.StatusCode != 200 || body != "live" {
			t.Fatalf("request %d: %d %q; the dead endpoint must be skipped", i, resp.StatusCode, body)
		}
	}
}

func TestConfigChangeUnderLoad(t *testing.T) {
	_, pa := backendServer(t, "a")
	_, pb := backendServer(t, "b")
	ing := ingressObj("load", time.Unix(1, 0), rule("", path("/load", networkingv1.PathTypePrefix, "svc-a")))
	h := start(t, append(append(exposed("svc-a", 80, pa), exposed("svc-b", 80, pb)...), ing)...)

	ctx, stop := context.WithCancel(context.Background())
	var failures, total atomic.Int64
	var seen sync.Map
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := h.clientFor(h.http)
			for ctx.Err() == nil {
				total.Add(1)
				resp, err := c.Get("http://x/load")
				if err != nil {
					failures.Add(1)
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures.Add(1)
				}
				seen.Store(string(body), true)
			}
		}()
	}
	// A slow request in flight across every swap must still complete.
	slow := make(chan int, 1)
	go func() {
		resp, err := h.clientFor(h.http).Get("http://x/load?sleep=800ms")
		if err != nil {
			slow <- 0
			return
		}
		resp.Body.Close()
		slow <- resp.StatusCode
	}()
	ings := h.client.NetworkingV1().Ingresses("default")
	for i := range 8 {
		time.Sleep(100 * time.Millisecond)
		cur, err := ings.Get(context.Background(), "load", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cur.Spec.Rules[0].HTTP.Paths[0].Backend = *backendRef([]string{"svc-b", "svc-a"}[i%2])
		if _, err := ings.Update(context.Background(), cur, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	stop()
	wg.Wait()
	if code := <-slow; code != 200 {
		t.Errorf("in-flight request across the changes: %d", code)
	}
	_, sawA := seen.Load("a")
	_, sawB := seen.Load("b")
	t.Logf("%d requests, %d failed", total.Load(), failures.Load())
	if failures.Load() != 0 || !sawA || !sawB {
		t.Errorf("%d of %d requests failed; saw a=%v b=%v", failures.Load(), total.Load(), sawA, sawB)
	}
}
