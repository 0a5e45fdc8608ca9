package encryption

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apiserver/pkg/server/options/encryptionconfig"
)

// Several servers encrypt with one configuration: its copy in etcd is the
// cluster's, sealed with a key derived from the server join secret (which only
// servers hold), and every server keeps its file in step with it. `skiff
// secrets rotate-key` edits one server's file; that server publishes it, the
// others take it, and each records in etcd which configuration it has applied
// (loaded, and re-encrypted what it stores). The file rotate-key waits on says
// "applied" only once every server has.

const (
	sharedConfigKey = "/skiff/encryption/config"
	appliedPrefix   = "/skiff/encryption/applied/"
	shareInterval   = time.Second
)

// Share keeps this server's encryption configuration file in step with the
// cluster's copy in etcd.
type Share struct {
	Etcd    *clientv3.Client
	Member  string // this server's etcd member name
	Secret  string // the server join secret
	Path    string // the configuration file
	DataDir string
	synced  []byte // the configuration last agreed with etcd
}

// Pull makes the file the cluster's configuration before the server loads it (a
// server that was down during a rotation must not write with a dropped key),
// or publishes the file when the cluster has none yet.
func (s *Share) Pull(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return s.step(ctx)
}

// Run keeps the file and etcd in step, and records cluster-wide application,
// until ctx ends.
func (s *Share) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(shareInterval):
		}
		if err := s.step(ctx); err != nil && ctx.Err() == nil {
			slog.Debug("encryption: configuration not synced with the cluster this round", "err", err)
			continue
		}
		if err := s.recordClusterApplied(ctx); err != nil && ctx.Err() == nil {
			slog.Debug("encryption: cluster-wide application not checked this round", "err", err)
		}
	}
}

// step publishes the file when it changed here since the last sync, or takes
// the cluster's copy when that changed (the cluster's wins when both did).
func (s *Share) step(ctx context.Context) error {
	local, err := os.ReadFile(s.Path)
	if err != nil {
		return err
	}
	resp, err := s.Etcd.Get(ctx, sharedConfigKey)
	if err != nil {
		return err
	}
	var remote []byte
	var rev int64 // ModRevision of the copy; 0 when there is none
	if len(resp.Kvs) > 0 {
		rev = resp.Kvs[0].ModRevision
		if remote, err = s.open(resp.Kvs[0].Value); err != nil {
			slog.Warn("encryption: the cluster's configuration cannot be opened with this server's join secret; publishing this server's", "err", err)
			remote = nil
		}
	}
	switch {
	case remote != nil && bytes.Equal(remote, local):
	case remote == nil || (!bytes.Equal(local, s.synced) && bytes.Equal(remote, s.synced)):
		if err := s.publish(ctx, local, rev); err != nil {
			return err
		}
		slog.Info("encryption: this server's configuration is now the cluster's", "path", s.Path)
	default:
		if err := writeFileAtomic(s.Path, remote); err != nil {
			return err
		}
		slog.Info("encryption: took the cluster's configuration", "path", s.Path)
		local = remote
	}
	s.synced = local
	return nil
}

// publish replaces the cluster's copy, unless another server replaced it since
// it was read at rev.
func (s *Share) publish(ctx context.Context, data []byte, rev int64) error {
	sealed, err := s.seal(data)
	if err != nil {
		return err
	}
	resp, err := s.Etcd.Txn(ctx).If(clientv3.Compare(clientv3.ModRevision(sharedConfigKey), "=", rev)).
		Then(clientv3.OpPut(sharedConfigKey, string(sealed))).Commit()
	if err != nil {
		return err
	}
	if !resp.Succeeded {
		return errors.New("another server changed the cluster's configuration meanwhile")
	}
	return nil
}

// MemberApplied records in etcd that this server has applied the configuration
// with hash (Transformers call it after loading it and re-encrypting).
func (s *Share) MemberApplied(ctx context.Context, hash string) error {
	_, err := s.Etcd.Put(ctx, appliedPrefix+s.Member, hash)
	return err
}

// recordClusterApplied writes the local "applied" file once every voting
// member has applied the configuration this server's file holds.
func (s *Share) recordClusterApplied(ctx context.Context) error {
	hash, err := encryptionconfig.GetEncryptionConfigHash(s.Path)
	if err != nil {
		return err
	}
	if got, err := os.ReadFile(appliedPath(s.DataDir)); err == nil && string(got) == hash {
		return nil
	}
	members, err := s.Etcd.MemberList(ctx)
	if err != nil {
		return err
	}
	applied, err := s.Etcd.Get(ctx, appliedPrefix, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	by := map[string]string{}
	for _, kv := range applied.Kvs {
		by[string(kv.Key[len(appliedPrefix):])] = string(kv.Value)
	}
	for _, m := range members.Members {
		if !m.IsLearner && m.Name != "" && by[m.Name] != hash {
			return nil // not yet
		}
	}
	return recordApplied(s.DataDir, hash)
}

// key is the AES-256 key the cluster's copy is sealed with.
func (s *Share) key() []byte {
	sum := sha256.Sum256([]byte("skiff encryption configuration\x00" + s.Secret))
	return sum[:]
}

func (s *Share) seal(data []byte) ([]byte, error) {
	gcm, err := newGCM(s.key())
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, gcm.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return gcm.Seal(nonce, nonce, data, []byte(sharedConfigKey)), nil
}

func (s *Share) open(sealed []byte) ([]byte, error) {
	gcm, err := newGCM(s.key())
	if err != nil {
		return nil, err
	}
	if len(sealed) < gcm.NonceSize() {
		return nil, errors.New("sealed configuration too short")
	}
	n := gcm.NonceSize()
	data, err := gcm.Open(nil, sealed[:n], sealed[n:], []byte(sharedConfigKey))
	if err != nil {
		return nil, fmt.Errorf("open the cluster's encryption configuration: %w", err)
	}
	return data, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// writeFileAtomic replaces path with data (0600): the reload loop must never
// read half a file.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
