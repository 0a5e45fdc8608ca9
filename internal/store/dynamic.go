package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// segment is a resource's part of the etcd key, e.g. "pods", "deployments.apps".
func segment(gr schema.GroupResource) string {
	if gr.Group == "" {
		return gr.Resource
	}
	return gr.Resource + "." + gr.Group
}

// RegisterUnstructured adds a resource of custom objects, kept as JSON, while the
// store runs (a CustomResourceDefinition became established). Its cache is filled
// from etcd at the revision the caches have reached; the events after it follow.
// Registering it again returns the same handle.
func (s *Store) RegisterUnstructured(ctx context.Context, gr schema.GroupResource) (*Resource, error) {
	seg := segment(gr)
	s.mu.Lock()
	if r, ok := s.caches[seg]; ok {
		s.mu.Unlock()
		return r, nil
	}
	r := &Resource{store: s, gr: gr, prefix: root + seg + "/", unstructured: true, transformer: s.transformerFor(gr)}
	// Events for the new resource wait on its lock until it holds the state they
	// follow; the revision read under s.mu is the last one routed to any cache.
	r.mu.Lock()
	rev := max(s.rev, s.applied)
	s.caches[seg] = r
	s.mu.Unlock()
	defer r.mu.Unlock()
	objs, err := r.loadAt(ctx, rev, true)
	if err != nil {
		s.mu.Lock()
		delete(s.caches, seg)
		s.mu.Unlock()
		return nil, err
	}
	r.objs = objs
	r.oldest, r.loadedAt = rev, rev
	r.watchers = map[*Watcher]struct{}{}
	return r, nil
}

// Unregister forgets a resource (its CustomResourceDefinition is gone): its
// watchers end and its events are no longer followed. Objects left in etcd stay.
func (s *Store) Unregister(gr schema.GroupResource) {
	s.mu.Lock()
	r := s.caches[segment(gr)]
	delete(s.caches, segment(gr))
	s.mu.Unlock()
	if r != nil {
		r.reset(map[string]*cached{}, 0)
	}
}

// loadAt reads every object of the resource as of revision rev, checking that
// each decodes: one that does not fails the load when strict, else is skipped.
func (r *Resource) loadAt(ctx context.Context, rev int64, strict bool) (map[string]*cached, error) {
	objs := map[string]*cached{}
	from := r.prefix
	for {
		resp, err := r.store.cli.Get(ctx, from, clientv3.WithRange(clientv3.GetPrefixRangeEnd(r.prefix)), clientv3.WithRev(rev), clientv3.WithLimit(1000))
		if err != nil {
			return nil, err
		}
		for _, kv := range resp.Kvs {
			key := string(kv.Key)
			var obj runtime.Object
			plain, err := r.plain(key, kv.Value)
			if err == nil {
				obj, err = r.decodePlain(plain, kv.ModRevision)
			}
			if err != nil && strict {
				return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
			}
			if err != nil {
				slog.Error("store: undecodable object skipped", "key", key, "err", err)
				continue
			}
			c := &cached{data: plain, rev: kv.ModRevision}
			if r.keepDecoded() {
				c.hot.Store(&decoded{obj})
			}
			objs[key] = c
		}
		if !resp.More {
			return objs, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

func encodeJSON(obj runtime.Object) ([]byte, error) {
	u, ok := obj.(runtime.Unstructured)
	if !ok {
		return nil, fmt.Errorf("custom resources are stored unstructured, got %T", obj)
	}
	return json.Marshal(u.UnstructuredContent())
}

func decodeJSON(data []byte, rev int64) (runtime.Object, error) {
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	setRV(u, rev)
	return u, nil
}
