package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

const (
	// Keys are secrets: only the owner may read them.
	keyPerm = 0o600
	// Certificates are public, so other local tools (kubectl, curl) may read them.
	certPerm = 0o644
	// Directories that hold keys are private so that file names alone leak nothing.
	dirPerm = 0o700
)

// writeFileAtomic replaces path with data so that a reader (or a restart after a
// crash) sees either the old content or the new, never a truncated key.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// createFileAtomic writes path only if it does not exist yet, and reports
// os.ErrExist otherwise. Linking the finished temp file into place is atomic and
// exclusive, so two processes racing to create a token or key agree on one
// winner instead of the second silently replacing what the first handed out.
func createFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := writeTemp(path, data, perm)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return os.ErrExist
		}
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeTemp writes data to a fsynced temporary file beside path (same directory,
// so that rename and link stay on one filesystem) and returns its name.
func writeTemp(path string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", err
	}
	name := f.Name()
	fail := func(err error) (string, error) {
		f.Close()
		os.Remove(name)
		return "", err
	}
	// CreateTemp uses 0600 already; Chmod states the intent and covers certPerm.
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// syncDir makes a rename or link durable: without it a power loss can forget
// the new directory entry even though the file data reached the disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// newKey generates the key type used for everything skiff issues. P-256 is
// small, fast, and accepted by every TLS stack kubectl and client-go use.
func newKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// encodeKey uses PKCS#8 so the same code path serves any key type a user may
// bring for the CA, and because every consumer (Go, openssl, client-go) reads it.
func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseKey accepts the usual PEM private key encodings, so an operator can
// supply a CA made with openssl or another tool.
func parseKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no private key found in PEM data")
		}
		var key any
		var err error
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			// Skip other blocks such as "EC PARAMETERS" that openssl emits first.
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", block.Type, err)
		}
		switch k := key.(type) {
		case *ecdsa.PrivateKey, *rsa.PrivateKey, ed25519.PrivateKey:
			return k.(crypto.Signer), nil
		default:
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
	}
}

// parseCert returns the first certificate in PEM data; the leaf comes first by
// convention in both our files and bundles written by other tools.
func parseCert(data []byte) (*x509.Certificate, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no certificate found in PEM data")
		}
		if block.Type == "CERTIFICATE" {
			return x509.ParseCertificate(block.Bytes)
		}
	}
}

// readPair reads <base>.crt and <base>.key. ok is false when either is absent,
// which callers treat as "issue a new one"; any other error is returned.
func readPair(base string) (certPEM, keyPEM []byte, ok bool, err error) {
	certPEM, err = os.ReadFile(base + ".crt")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	keyPEM, err = os.ReadFile(base + ".key")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, false, nil
	}
	if err != nil {
		return nil, nil, false, err
	}
	return certPEM, keyPEM, true, nil
}

// writePair writes the key before the certificate: a crash in between leaves
// a new key with an old (or no) certificate, which fails the key-match check
// on the next load and is reissued, never a certificate without its key.
func writePair(base string, certPEM, keyPEM []byte) error {
	if err := os.MkdirAll(filepath.Dir(base), dirPerm); err != nil {
		return err
	}
	if err := writeFileAtomic(base+".key", keyPEM, keyPerm); err != nil {
		return err
	}
	return writeFileAtomic(base+".crt", certPEM, certPerm)
}

// publicKeysEqual reports whether a and b are the same public key.
func publicKeysEqual(a, b crypto.PublicKey) bool {
	eq, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && eq.Equal(b)
}
