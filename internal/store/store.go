package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/storage/value"
	"k8s.io/apiserver/pkg/storage/value/encrypt/identity"
)

const root = "/registry/"

// Store is the object store: etcd for durability, one cache per resource for reads.
type Store struct {
	cli    *clientv3.Client
	scheme *runtime.Scheme
	proto  *protobuf.Serializer
	leases *leases
	// transformers encrypt values at rest, per resource; nil stores plain values.
	transformers value.ResourceTransformers

	mu        sync.Mutex
	caches    map[string]*Resource // by key segment, e.g. "pods", "deployments.apps"
	rev       int64                // every event up to rev has reached the caches
	applied   int64                // the revision of the newest event routed to a cache
	revCond   *sync.Cond
	ready     chan struct{}
	readyOnce sync.Once
}

// New returns a store over an etcd client; Register resources, then Run.
func New(cli *clientv3.Client, scheme *runtime.Scheme) *Store {
	s := &Store{
		cli:    cli,
		scheme: scheme,
		proto:  protobuf.NewSerializer(scheme, scheme),
		caches: map[string]*Resource{},
		ready:  make(chan struct{}),
	}
	s.leases = &leases{cli: cli}
	s.revCond = sync.NewCond(&s.mu)
	return s
}

// EncryptWith encrypts the values of every resource registered from now on with
// its transformer from t (the encryption configuration); call it before Register.
func (s *Store) EncryptWith(t value.ResourceTransformers) { s.transformers = t }

// Register returns the handle for a resource stored as version gv. Registering the same
// group/resource twice returns the same handle.
func (s *Store) Register(gr schema.GroupResource, gv schema.GroupVersion) *Resource {
	seg := segment(gr)
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.caches[seg]; ok {
		return r
	}
	r := &Resource{store: s, gr: gr, gv: gv, prefix: root + seg + "/", objs: map[string]runtime.Object{},
		transformer: s.transformerFor(gr)}
	s.caches[seg] = r
	return r
}

// transformerFor is how gr's values are encrypted at rest: as the encryption
// configuration says, or not at all.
func (s *Store) transformerFor(gr schema.GroupResource) value.Transformer {
	if s.transformers != nil {
		return s.transformers.TransformerForResource(gr)
	}
	return identity.NewEncryptCheckTransformer()
}

// Ready is closed once every cache holds the current state.
func (s *Store) Ready() <-chan struct{} { return s.ready }

// Revision is the newest etcd revision the caches have seen.
func (s *Store) Revision() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rev
}

// Run fills the caches and keeps them current until ctx ends.
func (s *Store) Run(ctx context.Context) {
	for ctx.Err() == nil {
		rev, err := s.load(ctx)
		if err != nil {
			slog.Error("store: initial list failed; retrying", "err", err)
			time.Sleep(time.Second)
			continue
		}
		s.readyOnce.Do(func() { close(s.ready) })
		err = s.follow(ctx, rev)
		if ctx.Err() == nil {
			slog.Warn("store: etcd watch ended; reloading caches", "err", err)
		}
	}
}

// load lists every registered prefix at one revision.
func (s *Store) load(ctx context.Context) (int64, error) {
	head, err := s.cli.Get(ctx, root, clientv3.WithCountOnly())
	if err != nil {
		return 0, err
	}
	rev := head.Header.Revision
	for _, r := range s.resources() {
		objs := map[string]runtime.Object{}
		from := r.prefix
		for {
			resp, err := s.cli.Get(ctx, from, clientv3.WithRange(clientv3.GetPrefixRangeEnd(r.prefix)), clientv3.WithRev(rev), clientv3.WithLimit(1000))
			if err != nil {
				return 0, err
			}
			for _, kv := range resp.Kvs {
				obj, err := r.decode(string(kv.Key), kv.Value, kv.ModRevision)
				if err != nil {
					slog.Error("store: undecodable object skipped", "key", string(kv.Key), "err", err)
					continue
				}
				objs[string(kv.Key)] = obj
			}
			if !resp.More {
				break
			}
			from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
		}
		r.reset(objs, rev)
	}
	s.setRev(rev)
	return rev, nil
}

// follow applies etcd events to the caches, in revision order, from rev+1.
func (s *Store) follow(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	wch := s.cli.Watch(wctx, root, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithPrevKV(), clientv3.WithProgressNotify())
	for resp := range wch {
		if err := resp.Err(); err != nil {
			return err
		}
		for _, ev := range resp.Events {
			s.apply(ev)
		}
		s.setRev(resp.Header.Revision)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.New("watch channel closed")
}

func (s *Store) apply(ev *clientv3.Event) {
	key := string(ev.Kv.Key)
	seg, _, _ := strings.Cut(strings.TrimPrefix(key, root), "/")
	s.mu.Lock()
	r := s.caches[seg]
	s.applied = ev.Kv.ModRevision
	s.mu.Unlock()
	if r == nil {
		return
	}
	// The cache already holds the previous version (events arrive in revision
	// order, after a load at the revision the watch starts from): decoding etcd's
	// copy of it again would double the decoding of every write.
	var obj, prev runtime.Object
	var err error
	if old, ok := r.peekKey(key); ok {
		prev = old
	} else if ev.PrevKv != nil {
		if prev, err = r.decode(key, ev.PrevKv.Value, ev.PrevKv.ModRevision); err != nil {
			slog.Error("store: undecodable previous object", "key", key, "err", err)
		}
	}
	if ev.Type == mvccpb.DELETE {
		r.observe(watch.Deleted, key, nil, prev, ev.Kv.ModRevision)
		return
	}
	if obj, err = r.decode(key, ev.Kv.Value, ev.Kv.ModRevision); err != nil {
		slog.Error("store: undecodable object", "key", key, "err", err)
		return
	}
	typ := watch.Modified
	if ev.IsCreate() {
		typ = watch.Added
	}
	r.observe(typ, key, obj, prev, ev.Kv.ModRevision)
}

func (s *Store) resources() []*Resource {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Resource, 0, len(s.caches))
	for _, r := range s.caches {
		out = append(out, r)
	}
	return out
}

func (s *Store) setRev(rev int64) {
	s.mu.Lock()
	if rev > s.rev {
		s.rev = rev
	}
	s.mu.Unlock()
	s.revCond.Broadcast()
}

// waitFor blocks until the caches have seen rev, asking etcd for a progress
// notification when no event would otherwise move them forward.
func (s *Store) waitFor(ctx context.Context, rev int64) error {
	deadline := time.Now().Add(3 * time.Second)
	for {
		s.mu.Lock()
		cur := s.rev
		s.mu.Unlock()
		if cur >= rev {
			return nil
		}
		if time.Now().After(deadline) {
			return apierrors.NewTimeoutError(fmt.Sprintf("too large resource version: %d, current: %d", rev, cur), 1)
		}
		_ = s.cli.RequestProgress(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// electionWait is how long a consistent read waits for etcd to elect a leader.
const electionWait = 3 * time.Second

// currentRevision asks etcd for its newest revision: a quorum read. While etcd
// elects a new leader (the server that led it died) that read fails; it is
// retried for a few seconds, so that reads ride through an election rather than
// fail with a 503.
func (s *Store) currentRevision(ctx context.Context) (int64, error) {
	deadline := time.Now().Add(electionWait)
	for {
		resp, err := s.cli.Get(ctx, root+"\x00", clientv3.WithCountOnly())
		if err == nil {
			return resp.Header.Revision, nil
		}
		if !electing(err) || time.Now().After(deadline) {
			return 0, err
		}
		select {
		case <-ctx.Done():
			return 0, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// electing reports an etcd error that means "no leader right now".
func electing(err error) bool {
	switch rpctypes.ErrorDesc(err) {
	case rpctypes.ErrLeaderChanged.Error(), rpctypes.ErrNoLeader.Error(), rpctypes.ErrTimeoutDueToLeaderFail.Error():
		return true
	}
	return false
}

// isCompacted reports an etcd "revision compacted" error.
func isCompacted(err error) bool { return errors.Is(err, rpctypes.ErrCompacted) }

// setRV stamps the etcd revision on an object as its resourceVersion.
func setRV(obj runtime.Object, rev int64) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetResourceVersion(fmt.Sprint(rev))
	}
}
