package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage/value"
)

// historySize is how many events each resource remembers for watches that resume
// from an older resourceVersion.
const historySize = 20000

// Resource stores the objects of one group/resource.
type Resource struct {
	store  *Store
	gr     schema.GroupResource
	gv     schema.GroupVersion
	prefix string
	// transformer encrypts values on their way to etcd (identity unless the
	// encryption configuration covers this resource).
	transformer value.Transformer
	// unstructured resources (custom resources) are kept as JSON, as Kubernetes
	// keeps them; built-in kinds as protobuf.
	unstructured bool
	// loadedAt is the revision a resource registered while the store runs was
	// loaded at: events up to it are already in its cache.
	loadedAt int64

	mu       sync.RWMutex
	objs     map[string]*cached
	history  []change // ring of the newest events
	next     int      // where the ring writes next
	oldest   int64    // watches from before this revision get 410 Gone
	watchers map[*Watcher]struct{}
	hot      []*cached // ring of the objects kept decoded (see heat)
	hotNext  int
	// filtered counts the watchers with a filter: only they (and deletions)
	// need an event's previous object, which may have to be decoded.
	filtered int
	// gen counts the cache's changes, and lastRev is the revision of the newest:
	// the cache is exactly the state as of max(lastRev, the store's revision).
	gen     uint64
	lastRev int64

	viewMu   sync.Mutex
	lastView *view
	views    map[int64]keptView // by the revision lists were served at
}

// Event is one change to an object, as the cache saw it.
type Event struct {
	Type watch.EventType
	Key  string
	Obj  runtime.Object // nil for deletions
	Prev runtime.Object
	Rev  int64
	// encoded is shared by every watcher the event reaches; nil for events made
	// for one watcher.
	encoded *encodings
}

// encodings holds an event's object serialized once per wire format.
type encodings struct {
	mu sync.Mutex
	m  map[string][]byte
}

// Encoded returns the event's object serialized by enc, which must depend only on
// format: every watcher asking with the same format shares one encoding, so a
// write is serialized once however many clients watch it.
func (e *Event) Encoded(format string, enc func() ([]byte, error)) ([]byte, error) {
	if e.encoded == nil {
		return enc()
	}
	e.encoded.mu.Lock()
	defer e.encoded.mu.Unlock()
	if data, ok := e.encoded.m[format]; ok {
		return data, nil
	}
	data, err := enc()
	if err != nil {
		return nil, err
	}
	if e.encoded.m == nil {
		e.encoded.m = map[string][]byte{}
	}
	e.encoded.m[format] = data
	return data, nil
}

// Key is where an object lives in etcd.
func (r *Resource) Key(namespace, name string) string {
	if namespace == "" {
		return r.prefix + name
	}
	return r.prefix + namespace + "/" + name
}

func (r *Resource) keyOf(obj runtime.Object) (string, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return "", err
	}
	if m.GetName() == "" {
		return "", apierrors.NewBadRequest("name is required")
	}
	return r.Key(m.GetNamespace(), m.GetName()), nil
}

// encode serializes obj for the etcd key, encrypted when the resource is; the key
// is the authenticated data, so a value copied to another key does not decrypt.
func (r *Resource) encode(ctx context.Context, key string, obj runtime.Object) ([]byte, error) {
	data, err := r.encodePlain(obj)
	if err != nil {
		return nil, err
	}
	return r.transformer.TransformToStorage(ctx, data, value.DefaultContext(key))
}

// encodePlain serializes obj as stored, before encryption: JSON for custom
// resources, protobuf in the storage version for built-in ones.
func (r *Resource) encodePlain(obj runtime.Object) ([]byte, error) {
	if r.unstructured {
		return encodeJSON(obj)
	}
	var buf bytes.Buffer
	enc := runtime.WithVersionEncoder{Version: r.gv, Encoder: r.store.proto, ObjectTyper: r.store.scheme}
	if err := enc.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (r *Resource) decode(key string, data []byte, rev int64) (runtime.Object, error) {
	plain, err := r.plain(key, data)
	if err != nil {
		return nil, err
	}
	return r.decodePlain(plain, rev)
}

// Get reads an object straight from etcd, so it is never stale.
func (r *Resource) Get(ctx context.Context, namespace, name string) (runtime.Object, error) {
	resp, err := r.store.cli.Get(ctx, r.Key(namespace, name))
	if err != nil {
		return nil, err
	}
	if len(resp.Kvs) == 0 {
		return nil, apierrors.NewNotFound(r.gr, name)
	}
	return r.decode(string(resp.Kvs[0].Key), resp.Kvs[0].Value, resp.Kvs[0].ModRevision)
}

// Create writes a new object; ttl > 0 makes etcd expire it after that many seconds.
func (r *Resource) Create(ctx context.Context, obj runtime.Object, ttl int64) (runtime.Object, error) {
	key, err := r.keyOf(obj)
	if err != nil {
		return nil, err
	}
	meta.NewAccessor().SetResourceVersion(obj, "")
	data, err := r.encode(ctx, key, obj)
	if err != nil {
		return nil, err
	}
	if err := checkSize(key, data); err != nil {
		return nil, err
	}
	var opts []clientv3.OpOption
	if ttl > 0 {
		lease, err := r.store.leases.get(ctx, ttl)
		if err != nil {
			return nil, err
		}
		opts = append(opts, clientv3.WithLease(lease))
	}
	resp, err := r.store.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, string(data), opts...)).Commit()
	if err != nil {
		return nil, storageError(err)
	}
	if !resp.Succeeded {
		n, _ := meta.NewAccessor().Name(obj)
		return nil, apierrors.NewAlreadyExists(r.gr, n)
	}
	setRV(obj, resp.Header.Revision)
	return obj, nil
}

// Update replaces an object if it is still at resourceVersion rv.
func (r *Resource) Update(ctx context.Context, obj runtime.Object, rv int64) (runtime.Object, error) {
	key, err := r.keyOf(obj)
	if err != nil {
		return nil, err
	}
	meta.NewAccessor().SetResourceVersion(obj, "")
	data, err := r.encode(ctx, key, obj)
	if err != nil {
		return nil, err
	}
	if err := checkSize(key, data); err != nil {
		return nil, err
	}
	resp, err := r.store.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.ModRevision(key), "=", rv)).
		Then(clientv3.OpPut(key, string(data), clientv3.WithIgnoreLease())).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).Commit()
	if err != nil {
		return nil, storageError(err)
	}
	if !resp.Succeeded {
		return nil, r.missOrConflict(resp, obj)
	}
	setRV(obj, resp.Header.Revision)
	return obj, nil
}

// Delete removes an object if it is still at resourceVersion rv (0: any version) and
// returns it as it was, stamped with the deletion's revision.
func (r *Resource) Delete(ctx context.Context, namespace, name string, rv int64) (runtime.Object, error) {
	key := r.Key(namespace, name)
	cmp := clientv3.Compare(clientv3.CreateRevision(key), ">", 0)
	if rv > 0 {
		cmp = clientv3.Compare(clientv3.ModRevision(key), "=", rv)
	}
	resp, err := r.store.cli.Txn(ctx).If(cmp).
		Then(clientv3.OpDelete(key, clientv3.WithPrevKV())).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).Commit()
	if err != nil {
		return nil, err
	}
	if !resp.Succeeded {
		tmp := &metaOnly{name: name}
		return nil, r.missOrConflict(resp, tmp)
	}
	del := resp.Responses[0].GetResponseDeleteRange()
	if len(del.PrevKvs) == 0 {
		return nil, apierrors.NewNotFound(r.gr, name)
	}
	return r.decode(key, del.PrevKvs[0].Value, resp.Header.Revision)
}

type metaOnly struct {
	runtime.Object
	name string
}

func (r *Resource) missOrConflict(resp *clientv3.TxnResponse, obj runtime.Object) error {
	name := ""
	if m, ok := obj.(*metaOnly); ok {
		name = m.name
	} else if a, err := meta.Accessor(obj); err == nil {
		name = a.GetName()
	}
	if resp.Responses[0].GetResponseRange().Count == 0 {
		return apierrors.NewNotFound(r.gr, name)
	}
	return apierrors.NewConflict(r.gr, name, fmt.Errorf("the object has been modified; please apply your changes to the latest version and try again"))
}

// ListOptions select part of a resource.
type ListOptions struct {
	Namespace string
	// ResourceVersion: "" is a consistent read; "0" whatever the cache has; N at least N.
	ResourceVersion string
	Limit           int64
	Continue        string
	Filter          func(runtime.Object) bool
	// Remaining, when set, receives how many objects follow a page that Limit cut
	// (left alone for filtered lists, whose count is unknown without reading them).
	Remaining *int64
	// encoded is set by ListEncoded, whose callers write the stored bytes: an
	// object decoded for Filter is dropped once it passes, so a filtered list
	// of 150,000 pods holds their bytes, not all of them decoded at once.
	encoded bool
}

// List returns matching objects sorted by key, the revision they reflect, and a
// continue token when Limit cut the list. Lists come from the cache; a continue
// token whose snapshot the cache no longer keeps is served from etcd.
func (r *Resource) List(ctx context.Context, o ListOptions) ([]runtime.Object, int64, string, error) {
	items, rev, cont, err := r.list(ctx, o)
	if err != nil {
		return nil, 0, "", err
	}
	out := make([]runtime.Object, 0, len(items))
	for _, it := range items {
		if it.obj == nil {
			it.obj = r.mustObject(it.key, it.c)
		}
		if it.obj != nil {
			out = append(out, it.obj)
		}
	}
	return out, rev, cont, nil
}

// item is one object a list selected: its cached bytes, and its decoded form
// when the filter needed it.
type item struct {
	key string
	c   *cached
	obj runtime.Object
}

func (r *Resource) list(ctx context.Context, o ListOptions) ([]item, int64, string, error) {
	prefix := r.prefix
	if o.Namespace != "" {
		prefix = r.prefix + o.Namespace + "/"
	}
	if o.Continue != "" {
		tok, err := decodeContinue(o.Continue, prefix)
		if err != nil {
			return nil, 0, "", err
		}
		if v, ok := r.viewAt(tok.Rev); ok {
			out, cont := r.page(v, tok.Rev, prefix, tok.Start, o)
			return out, tok.Rev, cont, nil
		}
		return r.listPage(ctx, o, prefix, tok)
	}
	if err := r.catchUp(ctx, o.ResourceVersion); err != nil {
		return nil, 0, "", err
	}
	v, rev := r.currentView()
	out, cont := r.page(v, rev, prefix, prefix, o)
	return out, rev, cont, nil
}

func (r *Resource) catchUp(ctx context.Context, rv string) error {
	switch rv {
	case "0":
		return nil
	case "":
		cur, err := r.store.currentRevision(ctx)
		if err != nil {
			return err
		}
		return r.store.waitFor(ctx, cur)
	default:
		var want int64
		if _, err := fmt.Sscan(rv, &want); err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("invalid resourceVersion %q", rv))
		}
		return r.store.waitFor(ctx, want)
	}
}

type continueToken struct {
	Rev   int64  `json:"rv"`
	Start string `json:"start"`
}

func decodeContinue(token, prefix string) (continueToken, error) {
	var tok continueToken
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err == nil {
		err = json.Unmarshal(raw, &tok)
	}
	if err != nil || !strings.HasPrefix(tok.Start, prefix) {
		return tok, apierrors.NewBadRequest("invalid continue token")
	}
	return tok, nil
}

// listPage reads the page a continue token asks for straight from etcd at the
// token's revision, so every page of a list is one consistent snapshot.
func (r *Resource) listPage(ctx context.Context, o ListOptions, prefix string, tok continueToken) ([]item, int64, string, error) {
	from, rev := tok.Start, max(tok.Rev, 0) // -1: at the latest revision
	var out []item
	end := clientv3.GetPrefixRangeEnd(prefix)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(max(o.Limit, 1))}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := r.store.cli.Get(ctx, from, opts...)
		if err != nil {
			if isCompacted(err) {
				return nil, 0, "", inconsistentContinue(from)
			}
			return nil, 0, "", err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for i, kv := range resp.Kvs {
			it := item{key: string(kv.Key)}
			plain, err := r.plain(it.key, kv.Value)
			if err != nil {
				return nil, 0, "", err
			}
			it.c = &cached{data: plain, rev: kv.ModRevision}
			if o.Filter != nil {
				if it.obj, err = r.decodePlain(plain, kv.ModRevision); err != nil {
					return nil, 0, "", fmt.Errorf("%s: %w", it.key, err)
				}
				if !o.Filter(it.obj) {
					continue
				}
				if o.encoded {
					it.obj = nil
				}
			}
			out = append(out, it)
			// A page never holds more than the limit: with a filter, the next
			// page starts after the last object kept.
			if o.Limit > 0 && int64(len(out)) == o.Limit && (resp.More || i < len(resp.Kvs)-1) {
				if o.Filter == nil && o.Remaining != nil {
					*o.Remaining = resp.Count - int64(i+1)
				}
				return out, rev, encodeContinue(continueToken{Rev: rev, Start: string(kv.Key) + "\x00"}), nil
			}
		}
		if !resp.More {
			return out, rev, "", nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

func encodeContinue(tok continueToken) string {
	raw, _ := json.Marshal(tok)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// inconsistentContinue is the 410 for a continue token whose revision etcd has
// compacted away. As in Kubernetes, it carries a token that continues from the same
// key at the latest revision, for clients that accept an inconsistent list.
func inconsistentContinue(from string) error {
	err := apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. " +
		"You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. " +
		"Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
	err.ErrStatus.ListMeta.Continue = encodeContinue(continueToken{Rev: -1, Start: from})
	return err
}

// reset replaces the cache's contents after a (re)load; watchers of the old
// contents are ended so their clients relist.
func (r *Resource) reset(objs map[string]*cached, rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.objs = objs
	r.gen++
	r.lastRev = rev
	r.dropViews()
	r.history = make([]change, 0, 64)
	r.next = 0
	r.hot, r.hotNext = nil, 0
	r.oldest = rev
	for w := range r.watchers {
		w.stop()
	}
	r.watchers, r.filtered = map[*Watcher]struct{}{}, 0
}

// observe applies one etcd event to the cache and fans it out: obj and prev are
// the decoded forms of cur and old (nil when absent).
func (r *Resource) observe(typ watch.EventType, key string, cur *cached, obj runtime.Object, old *cached, prev runtime.Object, rev int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rev <= r.loadedAt {
		return // a resource registered while running already holds this revision
	}
	r.gen++
	r.lastRev = rev
	if prev == nil && old != nil && (r.filtered > 0 || (typ == watch.Deleted && len(r.watchers) > 0)) {
		prev = r.mustObject(key, old) // a watcher came after current() looked
	}
	if typ == watch.Deleted {
		delete(r.objs, key)
		if old == nil {
			return
		}
		if prev != nil {
			prev = prev.DeepCopyObject() // it may be the hot copy others share
			setRV(prev, rev)
		}
	} else {
		r.objs[key] = cur
		r.heat(cur, obj)
	}
	kept := change{typ: typ, key: key, obj: cur, prev: old, rev: rev}
	if len(r.history) < historySize {
		r.history = append(r.history, kept)
	} else {
		r.oldest = r.history[r.next].rev
		r.history[r.next] = kept
		r.next = (r.next + 1) % historySize
	}
	if len(r.watchers) == 0 || (typ == watch.Deleted && prev == nil) {
		return
	}
	ev := Event{Type: typ, Key: key, Obj: obj, Prev: prev, Rev: rev, encoded: &encodings{}}
	for w := range r.watchers {
		if !w.send(ev) {
			r.unsubscribe(w)
		}
	}
}

// current returns the cached version of key, with its decoded form when a
// watcher needs it for an event of type typ: a filtered watcher, to tell
// whether the object leaves its selection, or any watcher of a deletion. A cold
// object costs a decode; the history needs only its bytes.
func (r *Resource) current(key string, typ watch.EventType) (*cached, runtime.Object) {
	r.mu.RLock()
	c, ok := r.objs[key]
	need := r.filtered > 0 || (typ == watch.Deleted && len(r.watchers) > 0)
	r.mu.RUnlock()
	if !ok || !need {
		return c, nil
	}
	return c, r.mustObject(key, c)
}

// Peek returns the cached object, which may lag etcd slightly; callers must not
// modify it.
func (r *Resource) Peek(namespace, name string) (runtime.Object, bool) {
	key := r.Key(namespace, name)
	r.mu.RLock()
	c, ok := r.objs[key]
	r.mu.RUnlock()
	if !ok {
		return nil, false
	}
	obj := r.mustObject(key, c)
	return obj, obj != nil
}

// Stats returns how many objects the cache holds and their average encoded size,
// estimated from a few of them (map iteration starts anywhere), for priority and
// fairness' estimate of what a list of them costs.
func (r *Resource) Stats() (count, avgBytes int64) {
	const sample = 32
	r.mu.RLock()
	defer r.mu.RUnlock()
	var n, size int64
	for _, c := range r.objs {
		size += int64(len(c.data))
		if n++; n == sample {
			break
		}
	}
	if n == 0 {
		return 0, 0
	}
	return int64(len(r.objs)), size / n
}
