package store

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage/value"
)

// hotSize is how many of a resource's most recently written objects the cache
// also keeps decoded: the next write of an object (a pod's binding, then its
// status) and the reads around it find it ready, while the rest of the cache
// costs only its encoded bytes (a decoded pod takes about three times the room:
// BenchmarkCachedPodSize).
const hotSize = 1024

// cached is one object version as the cache keeps it: the bytes etcd holds,
// decrypted, and while it is hot the decoded object. Both never change.
type cached struct {
	data []byte
	rev  int64
	hot  atomic.Pointer[decoded]
}

type decoded struct{ obj runtime.Object }

// change is one event as the history ring keeps it, for watches that resume.
type change struct {
	typ       watch.EventType
	key       string
	obj, prev *cached // obj is nil for deletions
	rev       int64
}

// plain turns a value read from etcd into the object's encoded bytes.
func (r *Resource) plain(key string, data []byte) ([]byte, error) {
	plain, _, err := r.transformer.TransformFromStorage(context.Background(), data, value.DefaultContext(key))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	return plain, nil
}

// decodePlain decodes an object's bytes as stored (after decryption) and stamps
// rev as its resourceVersion.
func (r *Resource) decodePlain(plain []byte, rev int64) (runtime.Object, error) {
	if r.unstructured {
		return decodeJSON(plain, rev)
	}
	obj, gvk, err := r.store.proto.Decode(plain, nil, nil)
	if err != nil {
		return nil, err
	}
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	setRV(obj, rev)
	return obj, nil
}

// object returns c decoded: shared while c is hot (callers must not modify it),
// else freshly decoded.
func (r *Resource) object(c *cached) (runtime.Object, error) {
	if d := c.hot.Load(); d != nil {
		return d.obj, nil
	}
	return r.decodePlain(c.data, c.rev)
}

// mustObject is object for readers that skip what does not decode (logged).
func (r *Resource) mustObject(key string, c *cached) runtime.Object {
	obj, err := r.object(c)
	if err != nil {
		slog.Error("store: undecodable cached object", "key", key, "err", err)
		return nil
	}
	return obj
}

// heat keeps c decoded as obj until hotSize newer writes push it out; a
// custom object stays decoded (see keepDecoded). Called with r.mu held.
func (r *Resource) heat(c *cached, obj runtime.Object) {
	c.hot.Store(&decoded{obj})
	if r.keepDecoded() {
		return
	}
	if r.hot == nil {
		r.hot = make([]*cached, hotSize)
	}
	if old := r.hot[r.hotNext]; old != nil {
		old.hot.Store(nil)
	}
	r.hot[r.hotNext] = c
	r.hotNext = (r.hotNext + 1) % hotSize
}

// keepDecoded tells whether the cache keeps every object decoded: custom
// objects are, since decoding JSON into unstructured costs several times what a
// protobuf decode does and every list of them decodes each object anyway (to
// convert and default it), while built-in kinds are listed from their bytes.
func (r *Resource) keepDecoded() bool { return r.unstructured }

// event turns a remembered change back into the event watchers get.
func (r *Resource) event(ch change) (Event, bool) {
	ev := Event{Type: ch.typ, Key: ch.key, Rev: ch.rev}
	if ch.obj != nil {
		if ev.Obj = r.mustObject(ch.key, ch.obj); ev.Obj == nil {
			return ev, false
		}
	}
	if ch.prev != nil {
		prev, err := r.decodePlain(ch.prev.data, ch.prev.rev)
		if err != nil {
			slog.Error("store: undecodable cached object", "key", ch.key, "err", err)
			return ev, false
		}
		if ch.typ == watch.Deleted {
			setRV(prev, ch.rev) // a deleted object reads as of its deletion
		}
		ev.Prev = prev
	}
	return ev, true
}

// Encoded is an object in the encoding it is stored in, decrypted: for built-in
// kinds Kubernetes' protobuf envelope (see Protobuf), with its resourceVersion
// left empty; Rev is the resourceVersion.
type Encoded struct {
	Data []byte
	Rev  int64
	// obj is the decoded form when the cache had it at hand (hot, or decoded
	// for a filter); shared, so read-only.
	obj runtime.Object
}

// Decode returns e's object: the one the cache already had decoded (shared:
// callers must not modify it), else a fresh decode, so a caller that walks a
// long list one object at a time holds one decoded object, not all of them.
func (r *Resource) Decode(e Encoded) (runtime.Object, error) {
	if e.obj != nil {
		return e.obj, nil
	}
	return r.decodePlain(e.Data, e.Rev)
}

// Protobuf tells whether the resource's objects are stored as protobuf (the
// built-in kinds) rather than JSON (custom resources).
func (r *Resource) Protobuf() bool { return !r.unstructured }

// ListEncoded is List for callers that write the objects out in their stored
// encoding: an object is decoded only when a filter has to look at it, so a
// list costs a copy of the cache's bytes rather than a decode and an encode of
// every object.
func (r *Resource) ListEncoded(ctx context.Context, o ListOptions) ([]Encoded, int64, string, error) {
	o.encoded = true
	items, rev, cont, err := r.list(ctx, o)
	if err != nil {
		return nil, 0, "", err
	}
	out := make([]Encoded, len(items))
	for i, it := range items {
		out[i] = Encoded{Data: it.c.data, Rev: it.c.rev, obj: it.obj}
		if d := it.c.hot.Load(); d != nil && it.obj == nil {
			out[i].obj = d.obj
		}
	}
	return out, rev, cont, nil
}
