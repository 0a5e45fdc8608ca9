package store

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/etcdutl/v3/snapshot"
	"go.uber.org/zap"
)

// Save writes a snapshot of the whole keyspace to path and returns its size. It is
// written beside path and renamed, so a crash never leaves a torn snapshot under path.
func (e *Etcd) Save(ctx context.Context, path string) (int64, error) {
	rc, err := e.Client.Snapshot(ctx)
	if err != nil {
		return 0, fmt.Errorf("etcd snapshot: %w", err)
	}
	defer rc.Close()
	part := path + ".part"
	f, err := os.OpenFile(part, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(f, rc)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, path)
	}
	if err != nil {
		os.Remove(part)
		return 0, fmt.Errorf("write etcd snapshot %s: %w", path, err)
	}
	return n, nil
}

// Restore turns dir (an embedded member's directory, as StartEmbedded takes it) into
// a fresh single-member cluster holding the snapshot's keyspace. The data it held is
// moved aside, not deleted, and its new name returned. The snapshot's integrity hash
// is checked first, so a corrupt file changes nothing.
func Restore(snapshotPath, dir, name string) (movedAside string, err error) {
	cfg := memberConfig(dir, Member{Name: name})
	tmp := cfg.Dir + ".restoring"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(tmp), 0o700); err != nil {
		return "", err
	}
	err = snapshot.NewV3(zap.NewNop()).Restore(snapshot.RestoreConfig{
		SnapshotPath:        snapshotPath,
		Name:                cfg.Name,
		OutputDataDir:       tmp,
		PeerURLs:            []string{cfg.AdvertisePeerUrls[0].String()},
		InitialCluster:      cfg.InitialCluster,
		InitialClusterToken: cfg.InitialClusterToken,
		// Revisions go on past the snapshot's, so clients never see one twice.
		RevisionBump:  1_000_000,
		MarkCompacted: true,
	})
	if err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("restore %s: %w", snapshotPath, err)
	}
	if _, err := os.Stat(cfg.Dir); err == nil {
		movedAside = fmt.Sprintf("%s.old-%d", cfg.Dir, time.Now().Unix())
		if err := os.Rename(cfg.Dir, movedAside); err != nil {
			return "", err
		}
	}
	return movedAside, os.Rename(tmp, cfg.Dir)
}
