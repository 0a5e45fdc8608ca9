package node_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"skiff/test/e2e/framework"
)

// TestPodCertificateVolume: a pod with a podCertificate projected volume waits while
// its node's request is pending; the test, playing the signer, issues a certificate
// for the requested key (with a SPIFFE URI from the pod's user annotations); the pod
// then starts with the key and the chain in its credential bundle.
func TestPodCertificateVolume(t *testing.T) {
	n := ns(t, "podcert")
	apply(t, n, `
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: app, image: `+toolbox+`, command: ["/toolbox", "sleep", "infinity"], volumeMounts: [{name: tls, mountPath: /tls}]}
  volumes:
  - name: tls
    projected:
      sources:
      - podCertificate:
          signerName: example.com/e2e
          keyType: ECDSAP256
          credentialBundlePath: creds.pem
          certificateChainPath: chain.pem
          maxExpirationSeconds: 7200
          userAnnotations: {example.com/spiffe-path: /billing}
`)
	var pcr certificatesv1.PodCertificateRequest
	framework.Eventually(t, 60*time.Second, func() error {
		out, err := cluster.Kubectl("-n", n, "get", "podcertificaterequests", "-o", "json")
		if err != nil {
			return err
		}
		var list certificatesv1.PodCertificateRequestList
		if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 1 {
			return fmt.Errorf("requests: %v %s", err, out)
		}
		pcr = list.Items[0]
		return nil
	})
	if got := get(t, n, "app", "{.status.phase}"); got != "Pending" {
		t.Errorf("pod phase before the signer answered = %q, want Pending", got)
	}
	if pcr.Spec.PodName != "app" || pcr.Spec.NodeName == "" || *pcr.Spec.MaxExpirationSeconds != 7200 {
		t.Errorf("request spec = %+v", pcr.Spec)
	}
	cluster.MustKubectl(t, "-n", n, "patch", "podcertificaterequest", pcr.Name, "--subresource=status", "--type=merge", "-p", signStatus(t, &pcr))
	running(t, n, "app")
	bundle := waitExec(t, 30*time.Second, n, "app", "", contains("CERTIFICATE"), "cat", "/tls/creds.pem")
	key, rest := pem.Decode([]byte(bundle))
	cert, _ := pem.Decode(rest)
	if key == nil || key.Type != "PRIVATE KEY" || cert == nil || cert.Type != "CERTIFICATE" {
		t.Fatalf("the credential bundle is not a key then a certificate:\n%s", bundle)
	}
	priv, err := x509.ParsePKCS8PrivateKey(key.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(cert.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !priv.(*ecdsa.PrivateKey).PublicKey.Equal(leaf.PublicKey) {
		t.Errorf("the pod's key is not the certificate's")
	}
	if len(leaf.URIs) != 1 || leaf.URIs[0].Path != "/billing" {
		t.Errorf("certificate URIs = %v, want the annotated path", leaf.URIs)
	}
	if chain, _ := execOut(n, "app", "", "cat", "/tls/chain.pem"); strings.Contains(chain, "PRIVATE KEY") || !strings.Contains(chain, "CERTIFICATE") {
		t.Errorf("chain.pem:\n%s", chain)
	}
}

// signStatus is the signer's answer to pcr: a certificate for its key, named by the
// SPIFFE path the pod asked for, as a status merge patch.
func signStatus(t *testing.T, pcr *certificatesv1.PodCertificateRequest) string {
	t.Helper()
	req, err := x509.ParseCertificateRequest(pcr.Spec.StubPKCS10Request)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	nb := time.Now().Add(-time.Minute).Truncate(time.Second)
	life := time.Duration(*pcr.Spec.MaxExpirationSeconds) * time.Second
	spiffe := &url.URL{Scheme: "spiffe", Host: "cluster.local", Path: pcr.Spec.UnverifiedUserAnnotations["example.com/spiffe-path"]}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: nb, NotAfter: nb.Add(life), URIs: []*url.URL{spiffe}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, req.PublicKey, ca)
	if err != nil {
		t.Fatal(err)
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{
		"certificateChain": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		"notBefore":        ts(nb), "notAfter": ts(nb.Add(life)), "beginRefreshAt": ts(nb.Add(life / 2)),
		"conditions": []map[string]string{{"type": "Issued", "status": "True", "reason": "E2E", "message": "signed", "lastTransitionTime": ts(time.Now())}},
	}})
	return string(patch)
}
