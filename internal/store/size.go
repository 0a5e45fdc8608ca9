package store

import (
	"context"
	"errors"
	"fmt"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	etcderrors "go.etcd.io/etcd/server/v3/etcdserver/errors"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
)

// maxRequestBytes is the largest request etcd accepts: the embedded member is
// configured with it, and it is etcd's default for an external cluster too.
const maxRequestBytes = 3 << 19 // 1.5 MiB

// txnOverhead is room for the transaction around a value: the key appears in
// the comparison and in the put, plus framing.
const txnOverhead = 1024

// CheckSize answers what a write of obj would get for its size, without writing:
// dry runs call it so they answer as the real request would.
func (r *Resource) CheckSize(ctx context.Context, obj runtime.Object) error {
	key, err := r.keyOf(obj)
	if err != nil {
		return err
	}
	data, err := r.encode(ctx, key, obj)
	if err != nil {
		return err
	}
	return checkSize(key, data)
}

func checkSize(key string, data []byte) error {
	if n := len(data) + 2*len(key) + txnOverhead; n > maxRequestBytes {
		return tooLarge(fmt.Sprintf("the object is %d bytes as stored; etcd accepts at most %d bytes per object", len(data), maxRequestBytes-2*len(key)-txnOverhead))
	}
	return nil
}

// storageError turns etcd's "request is too large" into the 413 a client can act
// on; other errors pass unchanged.
func storageError(err error) error {
	if errors.Is(err, etcderrors.ErrRequestTooLarge) || errors.Is(err, rpctypes.ErrRequestTooLarge) || errors.Is(err, rpctypes.ErrGRPCRequestTooLarge) {
		return tooLarge("etcd refused the request as too large")
	}
	return err
}

func tooLarge(msg string) error { return apierrors.NewRequestEntityTooLargeError(msg) }
