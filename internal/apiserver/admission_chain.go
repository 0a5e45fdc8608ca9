package apiserver

import (
	"context"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	admissionapi "k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authentication/user"

	"skiff/internal/auth"
)

// The admission chain runs plugins in Kubernetes' order: mutating plugins after the
// object's defaults (and skiff's built-in steps in admission.go), validating plugins
// after the object's own validation, just before the write. Plugins see
// k8s.io/apiserver's admissionapi.Attributes, so the library's own plugins (webhooks,
// admission policies) fit the chain as they are.
type admissionChain struct {
	mutating   []admissionapi.MutationInterface
	validating []admissionapi.ValidationInterface
}

// AddAdmission appends p to the chain, as mutating, validating or both, by what it
// implements. Plugins run in the order they were added.
func (a *API) AddAdmission(p admissionapi.Interface) {
	audited := a.auditedPlugin(p)
	if _, ok := p.(admissionapi.MutationInterface); ok {
		a.chain.mutating = append(a.chain.mutating, audited.(admissionapi.MutationInterface))
	}
	if _, ok := p.(admissionapi.ValidationInterface); ok {
		a.chain.validating = append(a.chain.validating, audited.(admissionapi.ValidationInterface))
	}
}

// mutate runs the mutating plugins that handle at's operation, and runs them once
// more when a webhook with reinvocationPolicy IfNeeded asks for it (a later plugin
// changed the object after it ran), as Kubernetes' chain does.
func (a *API) mutate(ctx context.Context, ep *endpoint, at admissionapi.Attributes) error {
	o := ep.admissionObjects()
	if err := a.mutateOnce(ctx, at, o); err != nil {
		return err
	}
	if rc := at.GetReinvocationContext(); rc.ShouldReinvoke() {
		rc.SetIsReinvoke()
		return a.mutateOnce(ctx, at, o)
	}
	return nil
}

func (a *API) mutateOnce(ctx context.Context, at admissionapi.Attributes, o admissionapi.ObjectInterfaces) error {
	for _, p := range a.chain.mutating {
		if !p.Handles(at.GetOperation()) {
			continue
		}
		if err := p.Admit(ctx, at, o); err != nil {
			return err
		}
	}
	return nil
}

// validate runs the validating plugins that handle at's operation.
func (a *API) validate(ctx context.Context, ep *endpoint, at admissionapi.Attributes) error {
	o := ep.admissionObjects()
	for _, p := range a.chain.validating {
		if !p.Handles(at.GetOperation()) {
			continue
		}
		if err := p.Validate(ctx, at, o); err != nil {
			return err
		}
	}
	return nil
}

// attributesFor describes a write to the plugins. obj is the new object (nil for a
// delete), old the stored one (nil for a create).
func attributesFor(ctx context.Context, ep *endpoint, op admissionapi.Operation, subresource string, obj, old runtime.Object, dryRun bool) admissionapi.Attributes {
	src := obj
	if src == nil {
		src = old
	}
	m, _ := meta.Accessor(src)
	var opts runtime.Object
	return admissionapi.NewAttributesRecord(obj, old, ep.StorageGVK(), m.GetNamespace(), m.GetName(),
		ep.StorageResource().WithVersion(ep.Storage.Version), subresource, op, opts, dryRun, userInfo(auth.UserFrom(ctx)))
}

// userInfo gives the library's view of an authenticated user (nil for in-process calls).
func userInfo(u *auth.User) user.Info {
	if u == nil {
		return &user.DefaultInfo{}
	}
	return &user.DefaultInfo{Name: u.Name, UID: u.UID, Groups: u.Groups, Extra: u.Extra}
}
