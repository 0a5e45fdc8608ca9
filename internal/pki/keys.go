package pki

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LoadOrCreateToken reads the token in path, or writes a new random one (32
// random bytes, hex-encoded) with mode 0600. When two processes race to
// create it, both end up with the one that reached the disk first.
func LoadOrCreateToken(path string) (string, error) {
	for range 2 {
		data, err := os.ReadFile(path)
		if err == nil {
			// Operators write token files by hand; a trailing newline is not part of it.
			tok := strings.TrimSpace(string(data))
			if tok == "" {
				return "", fmt.Errorf("token file %s is empty", path)
			}
			return tok, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
		buf := make([]byte, 32)
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		tok := hex.EncodeToString(buf)
		if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
			return "", err
		}
		err = createFileAtomic(path, []byte(tok+"\n"), keyPerm)
		if err == nil {
			return tok, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("write token %s: %w", path, err)
		}
		// Lost the race: loop once to read the winner's token.
	}
	return "", fmt.Errorf("token file %s appeared and vanished while creating it", path)
}

// LoadOrCreateSigningKey loads or creates the ECDSA P-256 key in path (the
// server keeps it as sa.key) that signs service account tokens. Like the
// token, creation is exclusive: every process that calls this agrees on the
// key, or tokens signed by one would be rejected by another.
func LoadOrCreateSigningKey(path string) (*ecdsa.PrivateKey, error) {
	for range 2 {
		data, err := os.ReadFile(path)
		if err == nil {
			key, err := parseKey(data)
			if err != nil {
				return nil, fmt.Errorf("signing key %s: %w", path, err)
			}
			ec, ok := key.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("signing key %s is %T, want ECDSA", path, key)
			}
			return ec, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		key, err := newKey()
		if err != nil {
			return nil, err
		}
		keyPEM, err := encodeKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
			return nil, err
		}
		err = createFileAtomic(path, keyPEM, keyPerm)
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("write signing key %s: %w", path, err)
		}
	}
	return nil, fmt.Errorf("signing key %s appeared and vanished while creating it", path)
}
