package admission

import (
	"context"

	"k8s.io/apiserver/pkg/admission"
	"k8s.io/client-go/tools/cache"
)

// whenConfigured leaves a plugin out while nothing is configured for it (no
// webhook configuration, no policy binding). With nothing to call the library's
// plugins would still, on every request, arm a 10 s readiness timer and copy the
// object for a reinvocation that cannot happen. Until the informer has synced the
// plugin runs, and waits for it as Kubernetes does.
func whenConfigured(p admission.Interface, configs cache.SharedIndexInformer) admission.Interface {
	c := configured{configs}
	if m, ok := p.(admission.MutationInterface); ok {
		return configuredMutating{m, c}
	}
	if v, ok := p.(admission.ValidationInterface); ok {
		return configuredValidating{v, c}
	}
	return p
}

type configured struct{ configs cache.SharedIndexInformer }

func (c configured) none() bool {
	return c.configs.HasSynced() && len(c.configs.GetStore().ListKeys()) == 0
}

type configuredMutating struct {
	admission.MutationInterface
	configured
}

func (c configuredMutating) Admit(ctx context.Context, at admission.Attributes, o admission.ObjectInterfaces) error {
	if c.none() {
		return nil
	}
	return c.MutationInterface.Admit(ctx, at, o)
}

type configuredValidating struct {
	admission.ValidationInterface
	configured
}

func (c configuredValidating) Validate(ctx context.Context, at admission.Attributes, o admission.ObjectInterfaces) error {
	if c.none() {
		return nil
	}
	return c.ValidationInterface.Validate(ctx, at, o)
}
