package store

import (
	"context"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"skiff/internal/resources"
)

// claimsRoot holds allocation records (a Service's node ports)
// outside /registry/, so the object caches never see them.
const claimsRoot = "/skiff/allocations/"

// Claims records values that must be unique across the whole cluster, whichever
// API server hands them out: claiming is a create-if-absent transaction in etcd,
// so of two servers that pick the same value, one gets it and the other retries.
type Claims struct {
	cli    *clientv3.Client
	prefix string
}

// Claims is the set of records under prefix (e.g. "nodeports/").
func (s *Store) Claims(prefix string) *Claims {
	return &Claims{cli: s.cli, prefix: claimsRoot + prefix}
}

// claimTimeout bounds one etcd round trip of an allocation.
const claimTimeout = 10 * time.Second

// Claim records value as taken; false if it was already.
func (c *Claims) Claim(value string) (bool, error) {
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	key := c.prefix + value
	resp, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, "")).Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// Ensure records value as taken whether or not it was (an object that holds it
// was written before its record was).
func (c *Claims) Ensure(value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	_, err := c.cli.Put(ctx, c.prefix+value, "")
	return err
}

// Release frees value.
func (c *Claims) Release(value string) error {
	ctx, cancel := context.WithTimeout(context.Background(), claimTimeout)
	defer cancel()
	_, err := c.cli.Delete(ctx, c.prefix+value)
	return err
}

// List returns every record under the prefix with the revision it was created at.
func (c *Claims) List(ctx context.Context) ([]resources.ClaimRecord, error) {
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	resp, err := c.cli.Get(ctx, c.prefix, clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return nil, err
	}
	out := make([]resources.ClaimRecord, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out = append(out, resources.ClaimRecord{Value: strings.TrimPrefix(string(kv.Key), c.prefix), Created: kv.CreateRevision})
	}
	return out, nil
}

// ReleaseRecord frees r's value unless its record is no longer r (released and
// claimed again since it was listed); false when it was not r.
func (c *Claims) ReleaseRecord(ctx context.Context, r resources.ClaimRecord) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, claimTimeout)
	defer cancel()
	key := c.prefix + r.Value
	resp, err := c.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(key), "=", r.Created)).
		Then(clientv3.OpDelete(key)).Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}
