package admission

import (
	"context"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"skiff/internal/auth"
)

// Authorizer lets the library's plugins ask skiff's authorizer, as policies do in CEL
// (authorizer.group('apps').resource('deployments').check('create')).
func Authorizer(z auth.Authorizer) authorizer.Authorizer {
	return authorizer.AuthorizerFunc(func(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
		var u *auth.User
		if i := a.GetUser(); i != nil {
			u = &auth.User{Name: i.GetName(), UID: i.GetUID(), Groups: i.GetGroups()}
		}
		ok, why := z.Authorize(ctx, auth.Attributes{
			User: u, Verb: a.GetVerb(), Namespace: a.GetNamespace(), APIGroup: a.GetAPIGroup(),
			Resource: a.GetResource(), Subresource: a.GetSubresource(), Name: a.GetName(), Path: a.GetPath(),
		})
		if ok {
			return authorizer.DecisionAllow, why, nil
		}
		return authorizer.DecisionNoOpinion, why, nil
	})
}

// ExemptServerWrites wraps a plugin so that it leaves alone the writes the server makes
// for itself (the built-in namespaces, roles and the kubernetes Service's endpoints):
// those carry no user, and no webhook or policy may keep the server from starting.
// The wrapper mutates or validates as p does (the library's plugins do one or the other).
func ExemptServerWrites(p admission.Interface) admission.Interface {
	if m, ok := p.(admission.MutationInterface); ok {
		return exemptMutating{m}
	}
	if v, ok := p.(admission.ValidationInterface); ok {
		return exemptValidating{v}
	}
	return p
}

func fromServer(at admission.Attributes) bool {
	u := at.GetUserInfo()
	return u == nil || u.GetName() == ""
}

type exemptMutating struct{ admission.MutationInterface }

func (e exemptMutating) Admit(ctx context.Context, at admission.Attributes, o admission.ObjectInterfaces) error {
	if fromServer(at) {
		return nil
	}
	return e.MutationInterface.Admit(ctx, at, o)
}

type exemptValidating struct{ admission.ValidationInterface }

func (e exemptValidating) Validate(ctx context.Context, at admission.Attributes, o admission.ObjectInterfaces) error {
	if fromServer(at) {
		return nil
	}
	return e.ValidationInterface.Validate(ctx, at, o)
}
