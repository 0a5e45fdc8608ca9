package store

import (
	"bytes"
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
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
		m, err := r.rewriteEach(ctx, func(plain []byte, stale bool) ([]byte, error) {
			if !stale {
				return nil, nil
			}
			return plain, nil
		})
		n += m
		if err != nil {
			return n, fmt.Errorf("%s: %w", r.gr, err)
		}
	}
	return n, nil
}

// Migrate rewrites every object of the resource whose stored form differs from
// what a write would store now: an older encryption key, or another version than
// the storage version. convert brings a decoded object to the storage version
// (custom resources, whose versions the CRD's converter knows); nil leaves it to
// the encoder. It returns how many objects it rewrote; each rewrite is a
// modification with a new resourceVersion, and one changed concurrently is
// skipped, as that write stored the current form.
func (r *Resource) Migrate(ctx context.Context, convert func(runtime.Object) (runtime.Object, error)) (int, error) {
	return r.rewriteEach(ctx, func(plain []byte, stale bool) ([]byte, error) {
		obj, err := r.decodePlain(plain, 0)
		if err != nil {
			return nil, err
		}
		if m, err := meta.Accessor(obj); err == nil {
			m.SetResourceVersion("") // never stored: see Create
		}
		if convert != nil {
			if obj, err = convert(obj); err != nil {
				return nil, err
			}
		}
		data, err := r.encodePlain(obj)
		if err != nil || (!stale && bytes.Equal(data, plain)) {
			return nil, err
		}
		return data, nil
	})
}

// rewriteEach walks the resource in etcd in pages and stores again, under the
// current key, each value for which next returns new plain bytes (nil: keep it).
func (r *Resource) rewriteEach(ctx context.Context, next func(plain []byte, stale bool) ([]byte, error)) (int, error) {
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
			plain, err = next(plain, stale)
			if err != nil {
				return n, fmt.Errorf("%s: %w", kv.Key, err)
			}
			if plain == nil {
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
