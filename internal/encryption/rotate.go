package encryption

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
)

// Rotate replaces the key that encrypts Secrets while the servers run, in three
// steps, each applied by every server before the next is written: the new key
// is added as a decrypting key; it becomes the key that encrypts, and every
// Secret is rewritten with it; the old keys are dropped. (Were the new key made
// the encrypting one at once, a server that had not loaded it yet could not read
// what another had just written.) The servers must be running: they are the ones
// that read etcd.
func Rotate(ctx context.Context, out io.Writer, dataDir, path string, timeout time.Duration) error {
	cfg, err := readConfig(path)
	if err != nil {
		return err
	}
	aes, err := secretsKeys(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	key, err := newKey()
	if err != nil {
		return err
	}
	old := aes.Keys
	aes.Keys = append(slices.Clone(old), key)
	if err := apply(ctx, out, dataDir, path, cfg, timeout); err != nil {
		return err
	}
	fmt.Fprintf(out, "every server decrypts with %s\n", key.Name)
	aes.Keys = append([]apiserverv1.Key{key}, old...)
	if err := apply(ctx, out, dataDir, path, cfg, timeout); err != nil {
		return err
	}
	fmt.Fprintf(out, "every secret is now encrypted with %s\n", key.Name)
	aes.Keys = aes.Keys[:1]
	if err := apply(ctx, out, dataDir, path, cfg, timeout); err != nil {
		return err
	}
	names := make([]string, len(old))
	for i, k := range old {
		names[i] = k.Name
	}
	fmt.Fprintf(out, "removed %s\n", strings.Join(names, ", "))
	return nil
}

// secretsKeys finds the AES-GCM or AES-CBC keys that encrypt new Secrets: those
// of the first provider of the first entry naming secrets.
func secretsKeys(cfg *apiserverv1.EncryptionConfiguration) (*apiserverv1.AESConfiguration, error) {
	for _, rc := range cfg.Resources {
		if !slices.Contains(rc.Resources, "secrets") && !slices.Contains(rc.Resources, "*.") && !slices.Contains(rc.Resources, "*.*") {
			continue
		}
		if len(rc.Providers) > 0 {
			switch p := rc.Providers[0]; {
			case p.AESGCM != nil:
				return p.AESGCM, nil
			case p.AESCBC != nil:
				return p.AESCBC, nil
			}
		}
		return nil, fmt.Errorf("secrets are not written with an aesgcm or aescbc provider; rotate its keys by editing the file")
	}
	return nil, fmt.Errorf("no entry encrypts secrets")
}

// apply writes the configuration and waits until the server records it applied.
func apply(ctx context.Context, out io.Writer, dataDir, path string, cfg *apiserverv1.EncryptionConfiguration, timeout time.Duration) error {
	if err := writeConfig(path, cfg); err != nil {
		return err
	}
	hash, err := encryptionconfig.GetEncryptionConfigHash(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s; waiting for every server to load it and re-encrypt\n", path)
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if got, err := os.ReadFile(appliedPath(dataDir)); err == nil && string(got) == hash {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("the servers did not all apply %s within %s: is `skiff server --data-dir %s` running, and every other server of the cluster? "+
		"(their logs say why not; the file keeps every key, so nothing is lost)", path, timeout, dataDir)
}
