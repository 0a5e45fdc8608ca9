package workloads

import (
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Claimer decides which objects (pods, ReplicaSets) an owner controls: those it
// already controls and still selects, plus orphans it selects, which it adopts.
// Objects it controls but no longer selects are released, so another owner may adopt
// them (this is how canary and blue-green by relabelling work).
type Claimer struct {
	Owner    metav1.Object
	OwnerGVK schema.GroupVersionKind
	Selector labels.Selector
	// Patch applies a strategic merge patch to the named object of the claimed kind.
	Patch func(ctx context.Context, name string, patch []byte) error
	// CanAdopt re-reads the owner from the API server before the first adoption: a
	// cached owner may already be deleted, and adopting then would leak the object.
	CanAdopt func(ctx context.Context) error

	adoptChecked bool
	adoptErr     error
}

// PodClaimer returns a Claimer of owner's pods, patched through client; get is the
// typed client's Get of the owner's kind, to re-read it before adopting.
func PodClaimer[T metav1.Object](client kubernetes.Interface, owner T, gvk schema.GroupVersionKind, sel labels.Selector,
	get func(context.Context, string, metav1.GetOptions) (T, error)) *Claimer {
	return &Claimer{
		Owner: owner, OwnerGVK: gvk, Selector: sel,
		Patch: func(ctx context.Context, name string, patch []byte) error {
			_, err := client.CoreV1().Pods(owner.GetNamespace()).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			return err
		},
		CanAdopt: RecheckOwner(owner, func(ctx context.Context) (metav1.Object, error) {
			return get(ctx, owner.GetName(), metav1.GetOptions{})
		}),
	}
}

// Claim returns the objects of objs the owner controls after adoption and release.
func Claim[T metav1.Object](ctx context.Context, c *Claimer, objs []T) ([]T, error) {
	var claimed []T
	var errs []error
	for _, o := range objs {
		ok, err := c.claimOne(ctx, o)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			claimed = append(claimed, o)
		}
	}
	if len(errs) > 0 {
		return claimed, fmt.Errorf("claim: %v", errs)
	}
	return claimed, nil
}

func (c *Claimer) claimOne(ctx context.Context, o metav1.Object) (bool, error) {
	ref := metav1.GetControllerOf(o)
	matches := c.Selector.Matches(labels.Set(o.GetLabels()))
	if ref != nil {
		if ref.UID != c.Owner.GetUID() {
			return false, nil
		}
		if matches || c.Owner.GetDeletionTimestamp() != nil {
			return true, nil
		}
		return false, c.release(ctx, o)
	}
	if !matches || c.Owner.GetDeletionTimestamp() != nil || o.GetDeletionTimestamp() != nil {
		return false, nil
	}
	if err := c.adopt(ctx, o); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, err
	}
	return true, nil
}

func (c *Claimer) adopt(ctx context.Context, o metav1.Object) error {
	if !c.adoptChecked {
		c.adoptChecked = true
		if c.CanAdopt != nil {
			c.adoptErr = c.CanAdopt(ctx)
		}
	}
	if c.adoptErr != nil {
		return fmt.Errorf("cannot adopt %s: %w", o.GetName(), c.adoptErr)
	}
	ref := NewControllerRef(c.Owner, c.OwnerGVK)
	// The uid makes the patch fail if the object was replaced by one of the same name.
	patch := map[string]any{"metadata": map[string]any{
		"ownerReferences": []any{ref}, "uid": o.GetUID()}}
	b, _ := json.Marshal(patch)
	return c.Patch(ctx, o.GetName(), b)
}

func (c *Claimer) release(ctx context.Context, o metav1.Object) error {
	b, _ := json.Marshal(ReleasePatch(c.Owner.GetUID(), o.GetUID()))
	err := c.Patch(ctx, o.GetName(), b)
	if apierrors.IsNotFound(err) || apierrors.IsInvalid(err) {
		return nil // gone, or already released
	}
	return err
}

// ReleasePatch removes the owner reference with ownerUID from the object with uid.
func ReleasePatch(ownerUID, uid types.UID) map[string]any {
	return map[string]any{"metadata": map[string]any{
		"ownerReferences": []any{map[string]any{"$patch": "delete", "uid": ownerUID}},
		"uid":             uid}}
}

// RecheckOwner returns a CanAdopt that fails when the live owner is gone, replaced, or
// being deleted. get reads the owner from the API server.
func RecheckOwner(owner metav1.Object, get func(ctx context.Context) (metav1.Object, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		live, err := get(ctx)
		if err != nil {
			return err
		}
		if live.GetUID() != owner.GetUID() {
			return fmt.Errorf("original %s is gone: got uid %s, wanted %s", owner.GetName(), live.GetUID(), owner.GetUID())
		}
		if live.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s is being deleted", owner.GetName())
		}
		return nil
	}
}
