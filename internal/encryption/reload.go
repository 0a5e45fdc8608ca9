package encryption

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
)

// pollInterval is how often a running server looks at its configuration file.
const pollInterval = 2 * time.Second

// Transformers are the live encryption transformers of a server and the file
// they come from.
type Transformers struct {
	*encryptionconfig.DynamicTransformers
	path    string
	dataDir string
	hash    string // of the configuration in use
	cancel  context.CancelFunc
	// Applied records that this server applied the configuration with hash; nil
	// writes the data dir's "applied" file (a server alone). Several servers
	// record it in etcd (Share.MemberApplied).
	Applied func(ctx context.Context, hash string) error
}

// Load builds the transformers from the configuration file at path.
func Load(ctx context.Context, path, dataDir string) (*Transformers, error) {
	tctx, cancel := context.WithCancel(ctx)
	cfg, err := encryptionconfig.LoadEncryptionConfig(tctx, path, true, "skiff")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("encryption provider config %s: %w", path, err)
	}
	dyn := encryptionconfig.NewDynamicTransformers(cfg.Transformers, cfg.HealthChecks[0], cancel, cfg.KMSCloseGracePeriod)
	return &Transformers{DynamicTransformers: dyn, path: path, dataDir: dataDir, hash: cfg.EncryptionFileContentHash, cancel: cancel}, nil
}

// Run keeps the transformers in step with the file until ctx ends. After each
// (re)load, rewrite re-encrypts what is stored under an older key; only then is
// the configuration recorded as applied, which is what `skiff secrets
// rotate-key` waits for before it drops the old key. (The library's reload
// controller has no such hook, hence this small loop.)
func (t *Transformers) Run(ctx context.Context, rewrite func(context.Context) (int, error)) {
	applied := ""
	for {
		if applied != t.hash {
			if n, err := rewrite(ctx); err != nil {
				slog.Error("encryption: re-encrypting stored values failed; retrying", "err", err)
			} else {
				if n > 0 {
					slog.Info("encryption: stored values re-encrypted with the current key", "count", n)
				}
				if err := t.recordApplied(ctx); err != nil {
					slog.Error("encryption: record the applied configuration; retrying", "err", err)
				} else {
					applied = t.hash
				}
			}
		}
		select {
		case <-ctx.Done():
			t.cancel()
			return
		case <-time.After(pollInterval):
		}
		t.reload(ctx)
	}
}

// reload swaps in the file's configuration when it changed and is valid; a bad
// file is logged and the running configuration stays.
func (t *Transformers) reload(ctx context.Context) {
	hash, err := encryptionconfig.GetEncryptionConfigHash(t.path)
	if err != nil || hash == t.hash {
		if err != nil {
			slog.Warn("encryption: cannot read the configuration; keeping the current one", "err", err)
		}
		return
	}
	tctx, cancel := context.WithCancel(ctx)
	cfg, err := encryptionconfig.LoadEncryptionConfig(tctx, t.path, true, "skiff")
	if err != nil {
		cancel()
		slog.Error("encryption: invalid configuration ignored; keeping the current one", "path", t.path, "err", err)
		t.hash = hash // do not retry the same broken file every poll
		return
	}
	t.DynamicTransformers.Set(cfg.Transformers, cancel, cfg.HealthChecks[0], cfg.KMSCloseGracePeriod)
	t.hash = cfg.EncryptionFileContentHash
	slog.Info("encryption: configuration reloaded", "path", t.path, "hash", t.hash)
}

func (t *Transformers) recordApplied(ctx context.Context) error {
	if t.Applied != nil {
		return t.Applied(ctx, t.hash)
	}
	return recordApplied(t.dataDir, t.hash)
}

func recordApplied(dataDir, hash string) error {
	path := appliedPath(dataDir)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(hash), 0o600)
}
