package ingress

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// certSet chooses a certificate by SNI: an exact name first, then a one-label
// wildcard ("*.example.com" covers "a.example.com" only).
type certSet struct {
	exact    map[string]*tls.Certificate
	wildcard map[string]*tls.Certificate // by parent domain
}

func (c certSet) lookup(name string) *tls.Certificate {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if cert := c.exact[name]; cert != nil {
		return cert
	}
	if _, parent, ok := strings.Cut(name, "."); ok {
		return c.wildcard[parent]
	}
	return nil
}

// add keeps the first certificate for a name: Ingresses come oldest first, so an
// older Ingress's certificate is not replaced by a newer one's.
func (c certSet) add(host string, cert *tls.Certificate) {
	m, key := c.exact, host
	if strings.HasPrefix(host, "*.") {
		m, key = c.wildcard, host[2:]
	}
	if _, ok := m[key]; !ok {
		m[key] = cert
	}
}

// addTLS loads the certificates of an Ingress's tls section and marks its hosts
// for the HTTP→HTTPS redirect. Hosts are redirected even when the Secret is
// missing, as the user asked for TLS; they are then served the default certificate.
func addTLS(t *table, ing *networkingv1.Ingress, src sources, certs *certCache) {
	for _, entry := range ing.Spec.TLS {
		hosts := entry.Hosts
		var cert *tls.Certificate
		if entry.SecretName != "" {
			var err error
			cert, err = certs.get(src.secret(ing.Namespace, entry.SecretName))
			if err != nil {
				t.problems = append(t.problems, fmt.Sprintf("ingress %s/%s: TLS secret %q: %v", ing.Namespace, ing.Name, entry.SecretName, err))
			}
		}
		if len(hosts) == 0 && cert != nil {
			hosts = cert.Leaf.DNSNames // no hosts listed: the names the certificate is for
		}
		for _, h := range hosts {
			h = strings.ToLower(h)
			t.tlsHosts[h] = true
			if cert != nil {
				t.certs.add(h, cert)
			}
		}
	}
}

// certCache keeps parsed certificates between rebuilds, keyed by Secret and
// checked against its resourceVersion, so an unrelated change (a new endpoint)
// does not re-parse every key pair. Only the rebuilding goroutine uses it.
type certCache struct {
	entries map[string]certEntry
	used    map[string]bool
}

type certEntry struct {
	version string
	cert    *tls.Certificate
	err     error
}

func newCertCache() *certCache {
	return &certCache{entries: map[string]certEntry{}, used: map[string]bool{}}
}

func (c *certCache) get(s *corev1.Secret) (*tls.Certificate, error) {
	if s == nil {
		return nil, errors.New("not found")
	}
	key := s.Namespace + "/" + s.Name
	c.used[key] = true
	if e, ok := c.entries[key]; ok && e.version == s.ResourceVersion && s.ResourceVersion != "" {
		return e.cert, e.err
	}
	e := certEntry{version: s.ResourceVersion}
	e.cert, e.err = parseSecret(s)
	c.entries[key] = e
	return e.cert, e.err
}

// sweep forgets the Secrets that the last build did not use.
func (c *certCache) sweep() {
	for k := range c.entries {
		if !c.used[k] {
			delete(c.entries, k)
		}
	}
	c.used = map[string]bool{}
}

func parseSecret(s *corev1.Secret) (*tls.Certificate, error) {
	crt, key := s.Data[corev1.TLSCertKey], s.Data[corev1.TLSPrivateKeyKey]
	if len(crt) == 0 || len(key) == 0 {
		return nil, fmt.Errorf("type %s without %s and %s", s.Type, corev1.TLSCertKey, corev1.TLSPrivateKeyKey)
	}
	cert, err := tls.X509KeyPair(crt, key)
	if err != nil {
		return nil, err
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, err
		}
	}
	return &cert, nil
}

// selfSigned makes the certificate served when no Ingress has one for the name
// asked, as other ingress controllers do: TLS still completes, and the client
// reports an untrusted certificate instead of a handshake failure.
func selfSigned(name string) (*tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"skiff"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{name},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
