package etcdsnapshot

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Every server keeps its own snapshots (each is a whole copy of the cluster's
// data), and records them in etcd so that `skiff etcd-snapshot list` on any
// server lists every server's: which server holds which file is what a
// disaster restore needs to know.

const indexPrefix = "/skiff/etcd-snapshots/"

// Index records the snapshots of one server in etcd.
type Index struct {
	KV     clientv3.KV
	Server string // this server's name
	Dir    string // where its snapshots are
}

// Sync makes the records of this server equal to the files in its directory
// (a snapshot pruned by `skiff etcd-snapshot prune`, or deleted by hand, leaves).
func (x *Index) Sync(ctx context.Context) error {
	files, err := List(x.Dir)
	if err != nil {
		return err
	}
	prefix := indexPrefix + x.Server + "/"
	resp, err := x.KV.Get(ctx, prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return err
	}
	recorded := map[string]bool{}
	for _, kv := range resp.Kvs {
		recorded[strings.TrimPrefix(string(kv.Key), prefix)] = true
	}
	for _, f := range files {
		if recorded[f.Name] {
			delete(recorded, f.Name)
			continue
		}
		f.Server = x.Server
		data, err := json.Marshal(f)
		if err != nil {
			return err
		}
		if _, err := x.KV.Put(ctx, prefix+f.Name, string(data)); err != nil {
			return err
		}
	}
	for name := range recorded {
		if _, err := x.KV.Delete(ctx, prefix+name); err != nil {
			return err
		}
	}
	return nil
}

// All lists every server's snapshots, newest first.
func (x *Index) All(ctx context.Context) ([]Info, error) {
	resp, err := x.KV.Get(ctx, indexPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var info Info
		if err := json.Unmarshal(kv.Value, &info); err == nil {
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b Info) int {
		if c := strings.Compare(b.Name, a.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Server, b.Server)
	})
	return out, nil
}

// Run syncs the records every interval until ctx ends.
func (x *Index) Run(ctx context.Context, interval time.Duration) {
	for {
		if err := x.Sync(ctx); err != nil && ctx.Err() == nil {
			slog.Debug("etcd snapshot records not synced this round", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
