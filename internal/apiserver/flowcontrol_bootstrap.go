package apiserver

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/apis/flowcontrol/bootstrap"
	flowcontrolclient "k8s.io/client-go/kubernetes/typed/flowcontrol/v1"

	"skiff/internal/resources"
)

// The bootstrap configuration of priority and fairness is kept in the cluster as
// kube-apiserver keeps it, checked at start and every minute after: the mandatory
// objects (exempt, catch-all) always hold their bootstrap spec; the suggested ones
// are created when missing and updated only while their
// apf.kubernetes.io/autoupdate-spec annotation says true (or, without a valid
// annotation, while nobody has changed them: generation 1); an object the
// annotation marks as the server's that the bootstrap set no longer has is
// removed.

// bootstrapFieldManager is the manager kube-apiserver writes these objects as.
const bootstrapFieldManager = "api-priority-and-fairness-config-producer-v1"

// configObject is a FlowSchema or a PriorityLevelConfiguration.
type configObject interface {
	metav1.Object
	runtime.Object
}

// configKind is what keeping one kind's bootstrap objects needs.
type configKind[T configObject] struct {
	list      func(context.Context) ([]T, error)
	create    func(context.Context, T) error
	update    func(context.Context, T) error
	remove    func(context.Context, string) error
	specEqual func(boot, have T) bool
	withSpec  func(into, from T) T
}

// ensureBootstrapConfig keeps the bootstrap objects until ctx ends, retrying
// soon after a failure.
func ensureBootstrapConfig(ctx context.Context, c flowcontrolclient.FlowcontrolV1Interface) {
	for {
		delay := time.Minute
		if err := ensureFlowControlObjects(ctx, c); err != nil && ctx.Err() == nil {
			slog.Warn("priority and fairness: could not ensure the bootstrap configuration; retrying", "err", err)
			delay = 2 * time.Second
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

func ensureFlowControlObjects(ctx context.Context, c flowcontrolclient.FlowcontrolV1Interface) error {
	// Priority levels first, so the FlowSchemas never dangle on a fresh cluster.
	plErr := ensureKind(ctx, priorityLevels(c.PriorityLevelConfigurations()),
		bootstrap.MandatoryPriorityLevelConfigurations, bootstrap.SuggestedPriorityLevelConfigurations)
	fsErr := ensureKind(ctx, flowSchemas(c.FlowSchemas()), bootstrap.MandatoryFlowSchemas, bootstrap.SuggestedFlowSchemas)
	return errors.Join(plErr, fsErr)
}

func ensureKind[T configObject](ctx context.Context, k configKind[T], mandatory, suggested []T) error {
	current, err := k.list(ctx)
	if err != nil {
		return err
	}
	have := map[string]T{}
	for _, o := range current {
		have[o.GetName()] = o
	}
	var errs []error
	wanted := map[string]bool{}
	for _, set := range []struct {
		objs   []T
		always bool
	}{{mandatory, true}, {suggested, false}} {
		for _, boot := range set.objs {
			wanted[boot.GetName()] = true
			cur, ok := have[boot.GetName()]
			if !ok {
				if err := k.create(ctx, boot.DeepCopyObject().(T)); err != nil && !apierrors.IsAlreadyExists(err) {
					errs = append(errs, err)
				}
				continue
			}
			if revised, ok := revise(k, cur, boot, set.always); ok {
				if err := k.update(ctx, revised); err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
					errs = append(errs, err)
				}
			}
		}
	}
	for name, o := range have {
		if wanted[name] {
			continue
		}
		if auto, err := strconv.ParseBool(o.GetAnnotations()[flowcontrolv1.AutoUpdateAnnotationKey]); err == nil && auto {
			if err := k.remove(ctx, name); err != nil && !apierrors.IsNotFound(err) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// revise returns cur as it should be stored, and whether that differs from cur:
// the bootstrap spec when cur is to follow it and does not, and the annotation
// saying whether it follows.
func revise[T configObject](k configKind[T], cur, boot T, always bool) (T, bool) {
	value, annotated := cur.GetAnnotations()[flowcontrolv1.AutoUpdateAnnotationKey]
	parsed, perr := strconv.ParseBool(value)
	auto := always
	if !always {
		auto = (perr == nil && parsed) || (perr != nil && cur.GetGeneration() == 1)
	}
	specStale := auto && !k.specEqual(boot, cur)
	annotationStale := !annotated || perr != nil || parsed != auto
	if !specStale && !annotationStale {
		var zero T
		return zero, false
	}
	revised := cur.DeepCopyObject().(T)
	if specStale {
		revised = k.withSpec(cur, boot)
	}
	ann := revised.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[flowcontrolv1.AutoUpdateAnnotationKey] = strconv.FormatBool(auto)
	revised.SetAnnotations(ann)
	return revised, true
}

func priorityLevels(c flowcontrolclient.PriorityLevelConfigurationInterface) configKind[*flowcontrolv1.PriorityLevelConfiguration] {
	type pl = *flowcontrolv1.PriorityLevelConfiguration
	create := metav1.CreateOptions{FieldManager: bootstrapFieldManager}
	update := metav1.UpdateOptions{FieldManager: bootstrapFieldManager}
	return configKind[pl]{
		list: func(ctx context.Context) ([]pl, error) {
			l, err := c.List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, err
			}
			return pointers(l.Items), nil
		},
		create: func(ctx context.Context, o pl) error { _, err := c.Create(ctx, o, create); return err },
		update: func(ctx context.Context, o pl) error { _, err := c.Update(ctx, o, update); return err },
		remove: func(ctx context.Context, name string) error { return c.Delete(ctx, name, metav1.DeleteOptions{}) },
		specEqual: func(boot, have pl) bool {
			want := boot.DeepCopy()
			resources.DefaultFlowControl(want)
			// Operators may size the exempt level's (nominal) seats.
			if want.Name == flowcontrolv1.PriorityLevelConfigurationNameExempt && want.Spec.Exempt != nil && have.Spec.Exempt != nil {
				want.Spec.Exempt.NominalConcurrencyShares = have.Spec.Exempt.NominalConcurrencyShares
				want.Spec.Exempt.LendablePercent = have.Spec.Exempt.LendablePercent
			}
			return equality.Semantic.DeepEqual(want.Spec, have.Spec)
		},
		withSpec: func(into, from pl) pl {
			out := into.DeepCopy()
			out.Spec = *from.Spec.DeepCopy()
			return out
		},
	}
}

func flowSchemas(c flowcontrolclient.FlowSchemaInterface) configKind[*flowcontrolv1.FlowSchema] {
	type fs = *flowcontrolv1.FlowSchema
	create := metav1.CreateOptions{FieldManager: bootstrapFieldManager}
	update := metav1.UpdateOptions{FieldManager: bootstrapFieldManager}
	return configKind[fs]{
		list: func(ctx context.Context) ([]fs, error) {
			l, err := c.List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, err
			}
			return pointers(l.Items), nil
		},
		create: func(ctx context.Context, o fs) error { _, err := c.Create(ctx, o, create); return err },
		update: func(ctx context.Context, o fs) error { _, err := c.Update(ctx, o, update); return err },
		remove: func(ctx context.Context, name string) error { return c.Delete(ctx, name, metav1.DeleteOptions{}) },
		specEqual: func(boot, have fs) bool {
			want := boot.DeepCopy()
			resources.DefaultFlowControl(want)
			return equality.Semantic.DeepEqual(want.Spec, have.Spec)
		},
		withSpec: func(into, from fs) fs {
			out := into.DeepCopy()
			out.Spec = *from.Spec.DeepCopy()
			return out
		},
	}
}

func pointers[T any](items []T) []*T {
	out := make([]*T, len(items))
	for i := range items {
		out[i] = &items[i]
	}
	return out
}
