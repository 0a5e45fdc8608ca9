package store

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apiserver/pkg/storage/value"
)

// RewriteStale re-encrypts every stored value that its resource's transformer
// reads with anything but the current write key (an older key, or plain text
// under a newly encrypted resource), and returns how many it rewrote. Clients see
// each rewrite as a modification with a new resourceVersion and the same content.
// A value changed concurrently is skipped: that write used the current key.
func (s *Store) RewriteStale(ctx context.Context) (int, error) {
	n := 0
	for _, r := range s.resources() {
		m, err := r.rewriteStale(ctx)
		n += m
		if err != nil {
			return n, fmt.Errorf("%s: %w", r.gr, err)
		}
	}
	return n, nil
}

func (r *Resource) rewriteStale(ctx context.Context) (int, error) {
	n := 0
	from, end := r.prefix, clientv3.GetPrefixRangeEnd(r.prefix)
	for {
		resp, err := r.store.cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithLimit(500))
		if err != nil {
			return n, err
		}
		for _, kv := range resp.Kvs {
			dataCtx := value.DefaultContext(kv.Key)
			plain, stale, err := r.transformer.TransformFromStorage(ctx, kv.Value, dataCtx)
			if err != nil {
				return n, fmt.Errorf("%s: %w", kv.Key, err)
			}
			if !stale {
				continue
			}
			data, err := r.transformer.TransformToStorage(ctx, plain, dataCtx)
			if err != nil {
				return n, err
			}
			key := string(kv.Key)
			txn, err := r.store.cli.Txn(ctx).
				If(clientv3.Compare(clientv3.ModRevision(key), "=", kv.ModRevision)).
				Then(clientv3.OpPut(key, string(data), clientv3.WithIgnoreLease())).Commit()
			if err != nil {
				return n, err
			}
			if txn.Succeeded {
				n++
			}
		}
		if !resp.More {
			return n, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
