package apiserver_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// TestPodCertificateRequests is a signer's session with the API: a request (as the
// kubelet files it) is served with its defaults and columns, only a user allowed to
// "sign" for its signer may answer it, the answer is checked against the requested
// key and then frozen; a node may file requests for itself only and watch only its
// own; and a pod asking for a certificate lifetime out of bounds is refused.
func TestPodCertificateRequests(t *testing.T) {
	n := ns(t, "podcerts")
	contains(t, cluster.MustKubectl(t, "api-resources", "--api-group=certificates.k8s.io"), "podcertificaterequests")
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	request := func(name, node string) string {
		return fmt.Sprintf(`apiVersion: certificates.k8s.io/v1
kind: PodCertificateRequest
metadata: {name: %s}
spec:
  signerName: example.com/e2e
  podName: web
  podUID: 11111111-1111-1111-1111-111111111111
  serviceAccountName: default
  serviceAccountUID: 22222222-2222-2222-2222-222222222222
  nodeName: %s
  nodeUID: 33333333-3333-3333-3333-333333333333
  stubPKCS10Request: %s
`, name, node, base64.StdEncoding.EncodeToString(csr))
	}
	if _, err := cluster.KubectlStdin(request("req-1", "n1"), "-n", n, "create", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	if got := jsonpath(t, "{.spec.maxExpirationSeconds}", "-n", n, "get", "podcertificaterequest", "req-1"); got != "86400" {
		t.Errorf("maxExpirationSeconds = %q, want the default 86400", got)
	}
	contains(t, cluster.MustKubectl(t, "-n", n, "get", "podcertificaterequests"), "SIGNERNAME", "example.com/e2e", "Pending")

	status := issuedStatus(t, key, time.Now().Add(-time.Minute).Truncate(time.Second), 2*time.Hour)
	patchStatus := func(as ...string) error {
		args := append([]string{"-n", n, "patch", "podcertificaterequest", "req-1", "--subresource=status", "--type=merge", "-p", status}, as...)
		_, err := cluster.Kubectl(args...)
		return err
	}
	// jane may write the status but is no signer.
	cluster.MustKubectl(t, "create", "clusterrole", "pcr-status-writer", "--verb=get,patch,update", "--resource=podcertificaterequests/status")
	cluster.MustKubectl(t, "create", "clusterrolebinding", "pcr-status-writer", "--clusterrole=pcr-status-writer", "--user=jane")
	t.Cleanup(func() {
		_, _ = cluster.Kubectl("delete", "clusterrolebinding", "pcr-status-writer")
		_, _ = cluster.Kubectl("delete", "clusterrole", "pcr-status-writer")
	})
	if err := patchStatus("--as=jane"); err == nil || !strings.Contains(err.Error(), `not permitted to "sign" for signer "example.com/e2e"`) {
		t.Errorf("a status write by a non-signer: %v", err)
	}
	if err := patchStatus(); err != nil {
		t.Fatalf("issuing as the cluster admin: %v", err)
	}
	contains(t, cluster.MustKubectl(t, "-n", n, "get", "podcertificaterequest", "req-1"), "Issued")
	status = issuedStatus(t, key, time.Now().Truncate(time.Second), 3*time.Hour)
	if err := patchStatus(); err == nil || !strings.Contains(err.Error(), "immutable after PodCertificateRequest is issued") {
		t.Errorf("re-issuing: %v", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := cluster.KubectlStdin(request("req-2", "n1"), "-n", n, "create", "-f", "-"); err != nil {
		t.Fatal(err)
	}
	status = issuedStatus(t, other, time.Now().Truncate(time.Second), 2*time.Hour)
	if _, err := cluster.Kubectl("-n", n, "patch", "podcertificaterequest", "req-2", "--subresource=status", "--type=merge", "-p", status); err == nil ||
		!strings.Contains(err.Error(), "not issued to the requested public key") {
		t.Errorf("issuing for another key: %v", err)
	}
	if _, err := cluster.Kubectl("-n", n, "patch", "podcertificaterequest", "req-2", "--type=merge", "-p", `{"spec":{"podName":"db"}}`); err == nil ||
		!strings.Contains(err.Error(), "field is immutable") {
		t.Errorf("changing the spec: %v", err)
	}

	asNode := []string{"--as=system:node:n1", "--as-group=system:nodes", "--as-group=system:authenticated"}
	if _, err := cluster.KubectlStdin(request("req-3", "n2"), append([]string{"-n", n, "create", "-f", "-"}, asNode...)...); err == nil ||
		!strings.Contains(err.Error(), `node "n1" can only create PodCertificateRequests for itself`) {
		t.Errorf("a node filing for another: %v", err)
	}
	if _, err := cluster.KubectlStdin(request("req-3", "n1"), append([]string{"-n", n, "create", "-f", "-"}, asNode...)...); err != nil {
		t.Errorf("a node filing for itself: %v", err)
	}
	if out, err := cluster.Kubectl(append([]string{"get", "podcertificaterequests", "-A", "--field-selector=spec.nodeName=n1", "-o", "name"}, asNode...)...); err != nil ||
		strings.Count(out, "podcertificaterequest") != 3 {
		t.Errorf("a node listing its own requests: %v\n%s", err, out)
	}
	if _, err := cluster.Kubectl(append([]string{"get", "podcertificaterequests", "-A"}, asNode...)...); err == nil {
		t.Errorf("a node listed every node's requests")
	}

	pod := func(seconds int) string {
		return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: tls}
spec:
  containers: [{name: c, image: skiff.local/toolbox:1, volumeMounts: [{name: tls, mountPath: /tls}]}]
  volumes:
  - name: tls
    projected:
      sources:
      - podCertificate: {signerName: example.com/e2e, keyType: ED25519, credentialBundlePath: creds.pem, maxExpirationSeconds: %d}
`, seconds)
	}
	mustFail(t, pod(3599), []string{"maxExpirationSeconds", "if provided, maxExpirationSeconds must be >= 3600"}, "-n", n, "create", "-f", "-")
	mustFail(t, pod(91*86400+1), []string{"if provided, maxExpirationSeconds must be <= 7862400"}, "-n", n, "create", "-f", "-")
	if _, err := cluster.KubectlStdin(pod(3600), "-n", n, "create", "-f", "-", "--dry-run=server"); err != nil {
		t.Errorf("a pod asking for an hour: %v", err)
	}
}

// issuedStatus is a signer's answer: a certificate for key's public key, as a
// status merge patch.
func issuedStatus(t *testing.T, key *ecdsa.PrivateKey, notBefore time.Time, life time.Duration) string {
	t.Helper()
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: notBefore, NotAfter: notBefore.Add(life)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), ca)
	if err != nil {
		t.Fatal(err)
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339) }
	patch, _ := json.Marshal(map[string]any{"status": map[string]any{
		"certificateChain": string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		"notBefore":        ts(notBefore), "notAfter": ts(notBefore.Add(life)), "beginRefreshAt": ts(notBefore.Add(life / 2)),
		"conditions": []map[string]string{{"type": "Issued", "status": "True", "reason": "E2E", "message": "signed", "lastTransitionTime": ts(time.Now())}},
	}})
	return string(patch)
}
