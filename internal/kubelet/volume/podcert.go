package volume

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// podCerts serves podCertificate projections, as the kubelet's pod certificate
// manager does: for each projection it generates a private key, asks the signer for a
// certificate with a PodCertificateRequest, and once the request is issued hands out
// the key and chain until the signer's beginRefreshAt, when it asks again (serving
// the old certificate until the new one is issued). The private key never leaves the
// node. Requests are followed with one watch of this node's requests.
type podCerts struct {
	ctx    context.Context
	client kubernetes.Interface
	node   string
	wake   func(uid types.UID, ns, name string)

	startOnce sync.Once
	store     cache.Store

	mu      sync.Mutex
	nodeUID types.UID
	creds   map[string]*podCred // by uid/volume/source index
	owners  map[string]podRef   // pod of each pending request, by namespace/name
}

type podRef struct {
	uid      types.UID
	ns, name string
}

// podCred is one projection's credentials and the request under way, if any.
type podCred struct {
	key, chain          []byte
	refreshAt, notAfter time.Time

	pending    string // the PodCertificateRequest asked for next
	pendingKey []byte
	asked      time.Time // when it was filed, by this node's clock
	failed     error     // the signer denied or failed the first request
}

// pendingAbandon is how long a request that never shows up in the watch is waited
// for before asking again (it was deleted, or the watch lost it). One that is there
// but unanswered is waited for as long as the signer takes.
const pendingAbandon = 10 * time.Minute

func newPodCerts(ctx context.Context, client kubernetes.Interface, node string, wake func(types.UID, string, string)) *podCerts {
	return &podCerts{ctx: ctx, client: client, node: node, wake: wake,
		creds: map[string]*podCred{}, owners: map[string]podRef{}}
}

// start begins the watch of this node's requests on first use: most nodes never
// project a pod certificate.
func (c *podCerts) start() {
	c.startOnce.Do(func() {
		narrow := func(opts *metav1.ListOptions) {
			opts.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", c.node).String()
		}
		lw := &cache.ListWatch{
			ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
				narrow(&opts)
				return c.client.CertificatesV1().PodCertificateRequests("").List(ctx, opts)
			},
			WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
				narrow(&opts)
				return c.client.CertificatesV1().PodCertificateRequests("").Watch(ctx, opts)
			},
		}
		changed := func(obj any) {
			if pcr, ok := obj.(*certificatesv1.PodCertificateRequest); ok {
				c.requestChanged(pcr.Namespace + "/" + pcr.Name)
			}
		}
		store, ctl := cache.NewInformerWithOptions(cache.InformerOptions{
			ListerWatcher: cache.ToListWatcherWithWatchListSemantics(lw, c.client), ObjectType: &certificatesv1.PodCertificateRequest{},
			Handler: cache.ResourceEventHandlerFuncs{AddFunc: changed, UpdateFunc: func(_, n any) { changed(n) }}})
		c.store = store
		go ctl.RunWithContext(c.ctx)
	})
}

// requestChanged wakes the pod waiting on a request.
func (c *podCerts) requestChanged(key string) {
	c.mu.Lock()
	p, ok := c.owners[key]
	c.mu.Unlock()
	if ok && c.wake != nil {
		c.wake(p.uid, p.ns, p.name)
	}
}

// files are the projection's files: the key and chain in the credential bundle (key
// first), and each alone where asked.
func (c *podCerts) files(ctx context.Context, pod *corev1.Pod, volume string, index int, src *corev1.PodCertificateProjection, def *int32) (map[string]File, error) {
	key, chain, err := c.credentials(ctx, pod, volume, index, src)
	if err != nil {
		return nil, err
	}
	mode := fileMode(nil, def)
	out := map[string]File{}
	if src.CredentialBundlePath != "" {
		out[src.CredentialBundlePath] = File{Data: append(append([]byte{}, key...), chain...), Mode: mode}
	}
	if src.KeyPath != "" {
		out[src.KeyPath] = File{Data: key, Mode: mode}
	}
	if src.CertificateChainPath != "" {
		out[src.CertificateChainPath] = File{Data: chain, Mode: mode}
	}
	return out, nil
}

// credentials returns the projection's key and chain, asking for a new certificate
// when there is none or it is due for refresh. Only the pod's own worker calls it for
// a given projection, so the API calls run outside the lock.
func (c *podCerts) credentials(ctx context.Context, pod *corev1.Pod, volume string, index int, src *corev1.PodCertificateProjection) ([]byte, []byte, error) {
	c.start()
	id := fmt.Sprintf("%s/%s/%d", pod.UID, volume, index)
	c.mu.Lock()
	cred := c.creds[id]
	if cred == nil {
		cred = &podCred{}
		c.creds[id] = cred
	}
	c.mu.Unlock()
	now := time.Now()
	switch {
	case cred.failed != nil:
		return nil, nil, cred.failed
	case cred.chain != nil && now.Before(cred.refreshAt):
		return cred.key, cred.chain, nil
	}
	if cred.pending == "" {
		if err := c.request(ctx, pod, src, cred); err != nil {
			return c.stillValid(cred, now, err)
		}
	}
	return c.follow(pod, src, cred, now)
}

// follow reads the pending request from the watch and takes its outcome.
func (c *podCerts) follow(pod *corev1.Pod, src *corev1.PodCertificateProjection, cred *podCred, now time.Time) ([]byte, []byte, error) {
	key := pod.Namespace + "/" + cred.pending
	obj, ok, _ := c.store.GetByKey(key)
	pcr, _ := obj.(*certificatesv1.PodCertificateRequest)
	waiting := fmt.Errorf("waiting for signer %q to issue PodCertificateRequest %s", src.SignerName, key)
	if !ok || pcr == nil {
		if now.Sub(cred.asked) > pendingAbandon {
			c.forgetPending(pod.Namespace, cred) // deleted, or lost: ask again on the next sync
		}
		return c.stillValid(cred, now, waiting)
	}
	for _, cond := range pcr.Status.Conditions {
		if cond.Status != metav1.ConditionTrue {
			continue
		}
		switch cond.Type {
		case certificatesv1.PodCertificateRequestConditionTypeIssued:
			c.forgetPending(pod.Namespace, cred)
			cred.key, cred.chain = cred.pendingKey, cleanChain(pcr.Status.CertificateChain)
			cred.refreshAt, cred.notAfter = pcr.Status.BeginRefreshAt.Time, pcr.Status.NotAfter.Time
			cred.pendingKey = nil
			return cred.key, cred.chain, nil
		case certificatesv1.PodCertificateRequestConditionTypeDenied, certificatesv1.PodCertificateRequestConditionTypeFailed:
			c.forgetPending(pod.Namespace, cred)
			err := fmt.Errorf("PodCertificateRequest %s was %s by signer %q: %s: %s", key, cond.Type, src.SignerName, cond.Reason, cond.Message)
			if cred.chain == nil {
				cred.failed = err // no amount of asking again will change the signer's mind
			}
			return c.stillValid(cred, now, err)
		}
	}
	return c.stillValid(cred, now, waiting)
}

// stillValid serves the current certificate while it lasts, else reports err.
func (c *podCerts) stillValid(cred *podCred, now time.Time, err error) ([]byte, []byte, error) {
	if cred.chain != nil && now.Before(cred.notAfter) {
		return cred.key, cred.chain, nil
	}
	return nil, nil, err
}

func (c *podCerts) forgetPending(ns string, cred *podCred) {
	c.mu.Lock()
	delete(c.owners, ns+"/"+cred.pending)
	c.mu.Unlock()
	cred.pending = ""
}

// request generates a key and creates the PodCertificateRequest for it, owned by the
// pod so that it goes with it.
func (c *podCerts) request(ctx context.Context, pod *corev1.Pod, src *corev1.PodCertificateProjection, cred *podCred) error {
	nodeUID, err := c.nodeUIDOf(ctx)
	if err != nil {
		return err
	}
	saName := pod.Spec.ServiceAccountName
	if saName == "" {
		saName = "default"
	}
	sa, err := c.client.CoreV1().ServiceAccounts(pod.Namespace).Get(ctx, saName, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading service account %q: %w", saName, err)
	}
	keyPEM, csr, err := newStubRequest(src.KeyType)
	if err != nil {
		return err
	}
	pcr, err := c.client.CertificatesV1().PodCertificateRequests(pod.Namespace).Create(ctx, &certificatesv1.PodCertificateRequest{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "req-", Namespace: pod.Namespace, OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "v1", Kind: "Pod", Name: pod.Name, UID: pod.UID}}},
		Spec: certificatesv1.PodCertificateRequestSpec{
			SignerName: src.SignerName, PodName: pod.Name, PodUID: pod.UID,
			ServiceAccountName: saName, ServiceAccountUID: sa.UID,
			NodeName: types.NodeName(c.node), NodeUID: nodeUID,
			MaxExpirationSeconds: src.MaxExpirationSeconds, StubPKCS10Request: csr,
			UnverifiedUserAnnotations: src.UserAnnotations,
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating a PodCertificateRequest for signer %q: %w", src.SignerName, err)
	}
	c.mu.Lock()
	c.owners[pod.Namespace+"/"+pcr.Name] = podRef{pod.UID, pod.Namespace, pod.Name}
	c.mu.Unlock()
	cred.pending, cred.pendingKey, cred.asked = pcr.Name, keyPEM, time.Now()
	return nil
}

func (c *podCerts) nodeUIDOf(ctx context.Context) (types.UID, error) {
	c.mu.Lock()
	uid := c.nodeUID
	c.mu.Unlock()
	if uid != "" {
		return uid, nil
	}
	node, err := c.client.CoreV1().Nodes().Get(ctx, c.node, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading node %q: %w", c.node, err)
	}
	c.mu.Lock()
	c.nodeUID = node.UID
	c.mu.Unlock()
	return node.UID, nil
}

// forget drops the pod's credentials; its requests go with it (owner references).
func (c *podCerts) forget(uid types.UID) {
	c.mu.Lock()
	defer c.mu.Unlock()
	forgetPrefix(c.creds, string(uid)+"/")
	for k, p := range c.owners {
		if p.uid == uid {
			delete(c.owners, k)
		}
	}
}

// newStubRequest generates a private key of the projection's type and the empty,
// signed PKCS#10 request that proves it: the signer decides the certificate's
// contents, the request carries only the public key.
func newStubRequest(keyType string) (keyPEM, csr []byte, err error) {
	var key crypto.Signer
	switch keyType {
	case "RSA3072":
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	case "RSA4096":
		key, err = rsa.GenerateKey(rand.Reader, 4096)
	case "ECDSAP256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ECDSAP384":
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ECDSAP521":
		key, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	case "ED25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, nil, fmt.Errorf("unsupported key type %q", keyType)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("generating a %s key: %w", keyType, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	csr, err = x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing the certificate request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), csr, nil
}

// cleanChain keeps only the chain's PEM blocks, without headers or text between them.
func cleanChain(chain string) []byte {
	var out bytes.Buffer
	rest := []byte(chain)
	for {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return out.Bytes()
		}
		_ = pem.Encode(&out, &pem.Block{Type: b.Type, Bytes: b.Bytes})
	}
}
