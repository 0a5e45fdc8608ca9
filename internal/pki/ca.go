// Package pki holds the cluster's certificate authority, the certificates it
// issues to the API server and its clients, and the kubeconfig files that carry
// them. All keys skiff generates are ECDSA P-256; keys are written 0600 and
// every file is replaced atomically, so a crash never leaves half a key.
package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 365 * 24 * time.Hour
	// renewBefore is how early a certificate is reissued: a month leaves time
	// for every client holding the old one to pick up the new one.
	renewBefore = 30 * 24 * time.Hour
	// backdate tolerates clocks between nodes that disagree by a few minutes;
	// a certificate "not yet valid" on a freshly joined node is a confusing failure.
	backdate = 5 * time.Minute

	caCommonName = "skiff-ca"
)

// CA is the cluster certificate authority.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// LoadOrCreateCA loads dir/ca.crt and dir/ca.key, creating them (10-year
// validity, CN "skiff-ca") if absent. It creates dir with mode 0700.
//
// A missing ca.crt means no certificate was ever issued by this CA (the key is
// written first), so the pair is created afresh. A ca.crt without its key, or
// with a key that does not match, is an error: silently replacing a CA would
// invalidate every certificate and kubeconfig already handed out.
func LoadOrCreateCA(dir string) (*CA, error) {
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("create pki dir: %w", err)
	}
	base := filepath.Join(dir, "ca")
	certPEM, err := os.ReadFile(base + ".crt")
	if errors.Is(err, os.ErrNotExist) {
		return createCA(base)
	}
	if err != nil {
		return nil, fmt.Errorf("read CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(base + ".key")
	if err != nil {
		return nil, fmt.Errorf("read CA key (ca.crt exists, so the key is required): %w", err)
	}
	return parseCA(certPEM, keyPEM, time.Now())
}

func parseCA(certPEM, keyPEM []byte, now time.Time) (*CA, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse CA key: %w", err)
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, fmt.Errorf("CA certificate %q is not a CA (IsCA and CertSign required)", cert.Subject.CommonName)
	}
	if !publicKeysEqual(key.Public(), cert.PublicKey) {
		return nil, errors.New("CA key does not match CA certificate")
	}
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("CA certificate expired at %s; replace ca.crt and ca.key and reissue all certificates", cert.NotAfter.Format(time.RFC3339))
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM}, nil
}

func createCA(base string) (*CA, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: caCommonName},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Leaves only: a skiff CA never needs to delegate to intermediates.
		MaxPathLenZero: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	certPEM := encodeCert(der)
	if err := writePair(base, certPEM, keyPEM); err != nil {
		return nil, fmt.Errorf("write CA: %w", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM}, nil
}

// Pool returns a certificate pool holding only the CA, for verifying peers.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// ServingCert loads dir/<name>.crt and dir/<name>.key, or issues a server
// certificate (1 year) for hosts, which mix IP addresses and DNS names. It
// reissues when the files are missing or unreadable, were not issued by this
// CA, expire within 30 days, or lack any of hosts in their SANs.
func (ca *CA) ServingCert(dir, name string, hosts []string) (tls.Certificate, error) {
	return ca.leafCert(dir, name, pkix.Name{CommonName: name}, hosts, x509.ExtKeyUsageServerAuth)
}

// PeerGroup is the organization of etcd peer certificates: the peer front admits
// only client certificates that carry it, not any certificate of the cluster CA.
const PeerGroup = "skiff:etcd-peers"

// PeerCert loads or issues dir/<name>.crt and .key for an etcd member: a server
// certificate for hosts that is also its client certificate towards the others.
func (ca *CA) PeerCert(dir, name, member string, hosts []string) (tls.Certificate, error) {
	subject := pkix.Name{CommonName: "etcd-peer:" + member, Organization: []string{PeerGroup}}
	return ca.leafCert(dir, name, subject, hosts, x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth)
}

// leafCert loads dir/<name>.crt and .key, reissuing them unless they chain to this
// CA for every usage, are not about to expire and cover hosts.
func (ca *CA) leafCert(dir, name string, subject pkix.Name, hosts []string, usages ...x509.ExtKeyUsage) (tls.Certificate, error) {
	ips, dnsNames, err := splitHosts(hosts)
	if err != nil {
		return tls.Certificate{}, err
	}
	base := filepath.Join(dir, name)
	certPEM, keyPEM, ok, err := readPair(base)
	if err != nil {
		return tls.Certificate{}, err
	}
	if ok {
		pair, err := keyPair(certPEM, keyPEM)
		usable := err == nil && coversHosts(pair.Leaf, ips, dnsNames)
		for _, u := range usages {
			usable = usable && ca.usable(pair.Leaf, u, time.Now())
		}
		if usable {
			return pair, nil
		}
	}

	key, err := newKey()
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		Subject:     subject,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: usages,
		IPAddresses: ips,
		DNSNames:    dnsNames,
	}
	certPEM, err = ca.sign(key.Public(), tmpl, leafValidity)
	if err != nil {
		return tls.Certificate{}, err
	}
	if keyPEM, err = encodeKey(key); err != nil {
		return tls.Certificate{}, err
	}
	if err := writePair(base, certPEM, keyPEM); err != nil {
		return tls.Certificate{}, fmt.Errorf("write certificate %s: %w", name, err)
	}
	return keyPair(certPEM, keyPEM)
}

// keyPair parses a certificate and its key, checking that they match, and
// always fills Leaf: the checks above need it, and so does a server that logs
// its certificate's names (X509KeyPair fills it only under the default GODEBUG).
func keyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, err
	}
	if pair.Leaf == nil {
		if pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0]); err != nil {
			return tls.Certificate{}, err
		}
	}
	return pair, nil
}

// ClientCert loads or issues dir/<name>.crt and dir/<name>.key for a client
// identity: CN = user, O = groups (the API server's authenticator reads them
// that way). It reissues when the subject differs (groups compared as a set),
// when the certificate was not issued by this CA, or when it expires within
// 30 days.
func (ca *CA) ClientCert(dir, name, user string, groups []string) (certPEM, keyPEM []byte, err error) {
	if user == "" {
		return nil, nil, errors.New("client certificate needs a user name")
	}
	base := filepath.Join(dir, name)
	certPEM, keyPEM, ok, err := readPair(base)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		pair, err := keyPair(certPEM, keyPEM)
		if err == nil && ca.usable(pair.Leaf, x509.ExtKeyUsageClientAuth, time.Now()) &&
			pair.Leaf.Subject.CommonName == user &&
			slices.Equal(normalizeGroups(pair.Leaf.Subject.Organization), normalizeGroups(groups)) {
			return certPEM, keyPEM, nil
		}
	}
	certPEM, keyPEM, err = ca.IssueClient(user, groups, leafValidity)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(base, certPEM, keyPEM); err != nil {
		return nil, nil, fmt.Errorf("write client certificate %s: %w", name, err)
	}
	return certPEM, keyPEM, nil
}

// IssueClient generates a key and a client certificate for user/groups without
// touching disk, for identities handed out once (an agent joining, `skiff
// kubeconfig`). validity <= 0 means one year.
func (ca *CA) IssueClient(user string, groups []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = ca.SignClient(key.Public(), user, groups, validity)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// SignClient signs a client certificate (CN = user, O = groups) for a public
// key the caller holds, so that a joining agent can keep its private key to
// itself and send only a public key. validity <= 0 means one year. Callers
// without a key pair of their own use IssueClient.
func (ca *CA) SignClient(pub crypto.PublicKey, user string, groups []string, validity time.Duration) ([]byte, error) {
	if pub == nil {
		return nil, errors.New("SignClient needs a public key; use IssueClient to generate one")
	}
	if user == "" {
		return nil, errors.New("client certificate needs a user name")
	}
	if validity <= 0 {
		validity = leafValidity
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: slices.Clone(groups)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	return ca.sign(pub, tmpl, validity)
}

// sign fills in what every leaf shares (serial, validity window, not a CA)
// and signs tmpl with the CA key.
func (ca *CA) sign(pub crypto.PublicKey, tmpl *x509.Certificate, validity time.Duration) ([]byte, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl.SerialNumber = serial
	tmpl.NotBefore = now.Add(-backdate)
	tmpl.NotAfter = now.Add(validity)
	// A leaf cannot be trusted past its CA; clamping keeps NotAfter honest so
	// the renewal check sees the real end of life.
	if tmpl.NotAfter.After(ca.Cert.NotAfter) {
		tmpl.NotAfter = ca.Cert.NotAfter
	}
	tmpl.BasicConstraintsValid = true
	tmpl.IsCA = false
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate for %q: %w", tmpl.Subject.CommonName, err)
	}
	return encodeCert(der), nil
}

// usable reports whether leaf chains to this CA for the given purpose and is
// not within renewBefore of expiring. Chaining matters after an operator
// replaces the CA: leaves from the old one must be reissued, not served.
func (ca *CA) usable(leaf *x509.Certificate, usage x509.ExtKeyUsage, now time.Time) bool {
	if leaf == nil || now.Add(renewBefore).After(leaf.NotAfter) {
		return false
	}
	_, err := leaf.Verify(x509.VerifyOptions{
		Roots:       ca.Pool(),
		CurrentTime: now,
		KeyUsages:   []x509.ExtKeyUsage{usage},
	})
	return err == nil
}

// splitHosts sorts hosts into IP and DNS SANs, dropping duplicates.
func splitHosts(hosts []string) ([]net.IP, []string, error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("serving certificate needs at least one host")
	}
	var ips []net.IP
	var names []string
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			return nil, nil, errors.New("serving certificate host is empty")
		}
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		// DNS names compare case-insensitively; store them lower-case.
		h = strings.ToLower(h)
		if !slices.Contains(names, h) {
			names = append(names, h)
		}
	}
	return ips, names, nil
}

// coversHosts reports whether cert names every wanted IP and DNS name exactly.
// Exact SAN membership (not VerifyHostname) is the test, so that a wildcard an
// operator once configured does not stand in for a name they now list.
func coversHosts(cert *x509.Certificate, ips []net.IP, names []string) bool {
	for _, ip := range ips {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(cert.DNSNames, func(have string) bool { return strings.EqualFold(have, n) }) {
			return false
		}
	}
	return true
}

// normalizeGroups makes group lists comparable as sets: the authorizer does
// not care about their order, so neither does the reissue check.
func normalizeGroups(groups []string) []string {
	out := slices.Clone(groups)
	slices.Sort(out)
	return slices.Compact(out)
}

// randomSerial returns a random 128-bit serial number; RFC 5280 allows up to
// 20 octets, and randomness keeps serials unique without shared state.
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	serial, err := rand.Int(rand.Reader, limit)
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	return serial, nil
}

// SignServing signs a serving certificate for hosts (IPs and DNS names) for a public
// key the caller holds: a joining agent's HTTPS endpoint.
func (ca *CA) SignServing(pub crypto.PublicKey, name string, hosts []string, validity time.Duration) ([]byte, error) {
	if pub == nil {
		return nil, errors.New("SignServing needs a public key")
	}
	ips, dnsNames, err := splitHosts(hosts)
	if err != nil {
		return nil, err
	}
	if validity <= 0 {
		validity = leafValidity
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: ips,
		DNSNames:    dnsNames,
	}
	return ca.sign(pub, tmpl, validity)
}
