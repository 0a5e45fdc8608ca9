// Package encryption encrypts API objects at rest: it keeps the standard
// EncryptionConfiguration file (apiserver.config.k8s.io/v1), builds the
// k8s.io/apiserver transformers from it, reloads it while the server runs, and
// rotates the key that encrypts Secrets.
package encryption

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"sigs.k8s.io/yaml"
)

// DefaultConfigPath is where a server without --encryption-provider-config keeps
// the configuration it generates at first start.
func DefaultConfigPath(dataDir string) string {
	return filepath.Join(dataDir, "encryption", "config.yaml")
}

// appliedPath records the hash of the configuration the running server has loaded
// and re-encrypted every stored value with; rotate-key waits on it.
func appliedPath(dataDir string) string { return filepath.Join(dataDir, "encryption", "applied") }

// EnsureDefault writes, unless path exists, a configuration that encrypts Secrets
// with AES-GCM under a fresh random 256-bit key; identity stays last so values
// written before encryption was on still read (and get rewritten encrypted).
func EnsureDefault(path string) error {
	if _, err := os.Stat(path); err == nil || !errors.Is(err, os.ErrNotExist) {
		return err
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	cfg := &apiserverv1.EncryptionConfiguration{Resources: []apiserverv1.ResourceConfiguration{{
		Resources: []string{"secrets"},
		Providers: []apiserverv1.ProviderConfiguration{
			{AESGCM: &apiserverv1.AESConfiguration{Keys: []apiserverv1.Key{key}}},
			{Identity: &apiserverv1.IdentityConfiguration{}},
		},
	}}}
	return writeConfig(path, cfg)
}

// newKey is a random AES-256 key named after the time it was made.
func newKey() (apiserverv1.Key, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return apiserverv1.Key{}, err
	}
	return apiserverv1.Key{
		Name:   "key-" + time.Now().UTC().Format("20060102T150405.000000000"),
		Secret: base64.StdEncoding.EncodeToString(secret),
	}, nil
}

func readConfig(path string) (*apiserverv1.EncryptionConfiguration, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	cfg := &apiserverv1.EncryptionConfiguration{}
	if err := yaml.UnmarshalStrict(data, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}

// writeConfig replaces the file atomically (0600, directory 0700): the running
// server polls it and must never read half a file.
func writeConfig(path string, cfg *apiserverv1.EncryptionConfiguration) error {
	cfg.APIVersion, cfg.Kind = apiserverv1.SchemeGroupVersion.String(), "EncryptionConfiguration"
	data, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, data)
}
