package volume

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// signPCR plays the signer: a certificate for the request's key, valid for an hour.
func signPCR(t *testing.T, pcr *certificatesv1.PodCertificateRequest) *certificatesv1.PodCertificateRequest {
	t.Helper()
	req, err := x509.ParseCertificateRequest(pcr.Spec.StubPKCS10Request)
	if err != nil || req.CheckSignature() != nil {
		t.Fatalf("the kubelet's request does not parse or verify: %v", err)
	}
	ca, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	nb := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), NotBefore: nb, NotAfter: nb.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, req.PublicKey, ca)
	if err != nil {
		t.Fatal(err)
	}
	out := pcr.DeepCopy()
	out.Status = certificatesv1.PodCertificateRequestStatus{
		CertificateChain: "junk before\n" + string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		NotBefore:        &metav1.Time{Time: nb}, NotAfter: &metav1.Time{Time: nb.Add(time.Hour)},
		BeginRefreshAt: &metav1.Time{Time: nb.Add(30 * time.Minute)},
		Conditions:     []metav1.Condition{{Type: "Issued", Status: "True", Reason: "Signed", LastTransitionTime: metav1.Now()}},
	}
	return out
}

// TestPodCertificateProjection: the first sync files a request for a fresh key and
// waits; the signer's answer wakes the pod; the next sync writes the key and the
// chain, and later syncs ask for nothing more. A denied request fails the volume.
func TestPodCertificateProjection(t *testing.T) {
	root := t.TempDir()
	t.Cleanup(func() { _ = UnmountUnder(root, 0) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := fake.NewClientset(
		&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1", UID: "node-uid"}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "sa-uid"}},
	)
	// The fake API does not generate names; the real one does.
	n := 0
	client.PrependReactor("create", "podcertificaterequests", func(a k8stesting.Action) (bool, runtime.Object, error) {
		obj := a.(k8stesting.CreateAction).GetObject().(*certificatesv1.PodCertificateRequest)
		n++
		obj.Name = fmt.Sprintf("%s%d", obj.GenerateName, n)
		return false, nil, nil
	})
	woken := make(chan string, 10)
	m := New(ctx, Config{Root: root, NodeName: "n1", Client: client,
		Wake: func(_ types.UID, ns, name string) { woken <- ns + "/" + name }})
	src := &corev1.PodCertificateProjection{SignerName: "example.com/s", KeyType: "ECDSAP256", CredentialBundlePath: "creds.pem",
		KeyPath: "key.pem", CertificateChainPath: "chain.pem", UserAnnotations: map[string]string{"example.com/path": "/x"}}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "u1"}, Spec: corev1.PodSpec{
		ServiceAccountName: "web",
		Volumes: []corev1.Volume{{Name: "tls", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{PodCertificate: src}}}}}},
	}}

	// The fake API loses what happens between a watcher's list and its watch; the real
	// one resumes from the list's resourceVersion. Let the node's watch begin first.
	m.certs.start()
	waitForWatch(t, client, "podcertificaterequests")

	vols := m.Setup(ctx, pod)
	if err := vols.errs["tls"]; err == nil || !strings.Contains(err.Error(), "waiting for signer") {
		t.Fatalf("first sync: err = %v, want waiting for the signer", err)
	}
	pcrs := client.CertificatesV1().PodCertificateRequests("ns")
	list, _ := pcrs.List(ctx, metav1.ListOptions{})
	if len(list.Items) != 1 {
		t.Fatalf("%d requests, want 1", len(list.Items))
	}
	pcr := list.Items[0]
	s := pcr.Spec
	if s.PodUID != "u1" || s.ServiceAccountUID != "sa-uid" || s.NodeName != "n1" || s.NodeUID != "node-uid" ||
		s.SignerName != src.SignerName || s.UnverifiedUserAnnotations["example.com/path"] != "/x" ||
		len(pcr.OwnerReferences) != 1 || pcr.OwnerReferences[0].UID != "u1" {
		t.Errorf("request = %+v %+v", pcr.ObjectMeta, s)
	}

	if _, err := pcrs.UpdateStatus(ctx, signPCR(t, &pcr), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := syncWhenWoken(t, m, pod, woken); err != nil {
		t.Fatalf("after issue: %v", err)
	}
	dir := Dir(root, "u1", PluginProjected, "tls")
	read := func(name string) []byte {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	key, chain := read("key.pem"), read("chain.pem")
	if !bytes.Equal(read("creds.pem"), append(append([]byte{}, key...), chain...)) {
		t.Errorf("the credential bundle is not the key then the chain")
	}
	if bytes.Contains(chain, []byte("junk")) {
		t.Errorf("text between PEM blocks was kept: %s", chain)
	}
	if !keyMatches(t, key, chain) {
		t.Errorf("the projected key is not the certificate's")
	}
	m.Setup(ctx, pod)
	if list, _ := pcrs.List(ctx, metav1.ListOptions{}); len(list.Items) != 1 {
		t.Errorf("%d requests after a sync with a fresh certificate, want 1", len(list.Items))
	}

	// A denied request fails the volume, and is not asked again.
	denied := pod.DeepCopy()
	denied.Name, denied.UID = "denied", "u2"
	m.Setup(ctx, denied)
	list, _ = pcrs.List(ctx, metav1.ListOptions{FieldSelector: "spec.podName=denied"})
	for _, p := range list.Items {
		if p.Spec.PodUID != "u2" {
			continue
		}
		p.Status.Conditions = []metav1.Condition{{Type: "Denied", Status: "True", Reason: "Policy", Message: "not today", LastTransitionTime: metav1.Now()}}
		if _, err := pcrs.UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := syncWhenWoken(t, m, denied, woken); err == nil || !strings.Contains(err.Error(), "not today") {
		t.Errorf("denied: err = %v", err)
	}
	if err := m.Teardown("u1"); err != nil {
		t.Fatal(err)
	}
	if len(m.certs.creds) != 1 {
		t.Errorf("credentials left after Teardown: %d, want 1 (the other pod's)", len(m.certs.creds))
	}
}

// syncWhenWoken syncs the pod's volumes each time it is woken, as its worker would,
// until the volume stops waiting for the signer; it returns the volume's error.
func syncWhenWoken(t *testing.T, m *Manager, pod *corev1.Pod, woken chan string) error {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-woken:
			if got != pod.Namespace+"/"+pod.Name {
				continue
			}
			err := m.Setup(context.Background(), pod).errs["tls"]
			if err == nil || !strings.Contains(err.Error(), "waiting for signer") {
				return err
			}
		case <-timeout:
			t.Fatalf("pod %s never woken with the signer's answer", pod.Name)
		}
	}
}

func keyMatches(t *testing.T, keyPEM, chainPEM []byte) bool {
	kb, _ := pem.Decode(keyPEM)
	cb, _ := pem.Decode(chainPEM)
	if kb == nil || cb == nil || kb.Type != "PRIVATE KEY" {
		t.Fatalf("key %q or chain %q is not PEM", keyPEM, chainPEM)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return key.(*ecdsa.PrivateKey).PublicKey.Equal(cert.PublicKey)
}

func waitForWatch(t *testing.T, client *fake.Clientset, resource string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, a := range client.Actions() {
			if a.GetVerb() == "watch" && a.GetResource().Resource == resource {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no watch of %s began", resource)
}
