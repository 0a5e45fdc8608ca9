// Package admission builds the admission plugins that act on the API's own
// admissionregistration.k8s.io objects: mutating and validating webhooks, and
// Mutating and Validating AdmissionPolicies. They are k8s.io/apiserver's plugins, fed as Kubernetes
// feeds them: informers over a loopback client, a REST mapper from discovery, the
// server's authorizer, and a service resolver that reaches webhook pods directly.
package admission

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/util/version"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/initializer"
	mutatingpolicy "k8s.io/apiserver/pkg/admission/plugin/policy/mutating"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/mutating"
	webhookvalidating "k8s.io/apiserver/pkg/admission/plugin/webhook/validating"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/component-base/compatibility"
)

// Plugins are the configured admission plugins, in the order they join the chain.
type Plugins struct {
	// MutatingPolicy is MutatingAdmissionPolicy.
	MutatingPolicy admission.Interface
	// Mutating is MutatingAdmissionWebhook.
	Mutating admission.Interface
	// Policy is ValidatingAdmissionPolicy.
	Policy admission.Interface
	// Validating is ValidatingAdmissionWebhook.
	Validating admission.Interface

	client    kubernetes.Interface
	informers informers.SharedInformerFactory
}

// New builds the plugins. They answer only once Start has synced their informers;
// until then a request that reaches them waits, as in Kubernetes. cfg is a loopback
// client config; authz answers the authorizer checks policies may make in CEL.
func New(ctx context.Context, cfg *rest.Config, authz authorizer.Authorizer) (*Plugins, error) {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(client.Discovery()))
	resolver, err := NewServiceResolver(factory)
	if err != nil {
		return nil, err
	}
	v := version.MajorMinor(1, 37)
	newInit := func(client kubernetes.Interface) admission.PluginInitializer {
		return initializer.New(client, dyn, factory, authz, utilfeature.DefaultFeatureGate,
			compatibility.NewEffectiveVersion(v, false, v, v), ctx.Done(), rediscovering{mapper})
	}
	init := newInit(client)
	reg := factory.Admissionregistration().V1()
	policyInit := newInit(newPolicyClient(client, reg.MutatingAdmissionPolicies().Lister()))

	mut, err := mutating.NewMutatingWebhook(nil)
	if err != nil {
		return nil, err
	}
	mut.SetServiceResolver(resolver)
	val, err := webhookvalidating.NewValidatingAdmissionWebhook(nil)
	if err != nil {
		return nil, err
	}
	val.SetServiceResolver(resolver)
	pol, err := validating.NewPlugin(nil)
	if err != nil {
		return nil, err
	}
	mpol, err := mutatingpolicy.NewPlugin(nil)
	if err != nil {
		return nil, err
	}
	policyInit.Initialize(mpol)
	for _, pl := range []admission.Interface{mpol, mut, pol, val} {
		if pl != mpol {
			init.Initialize(pl)
		}
		if err := admission.ValidateInitialization(pl); err != nil {
			return nil, fmt.Errorf("admission plugin: %w", err)
		}
	}
	// The informers the plugins read their configurations from (the factory
	// shares one per kind).
	return &Plugins{
		MutatingPolicy: whenConfigured(mpol, reg.MutatingAdmissionPolicyBindings().Informer()),
		Mutating:       whenConfigured(mut, reg.MutatingWebhookConfigurations().Informer()),
		Policy:         whenConfigured(pol, reg.ValidatingAdmissionPolicyBindings().Informer()),
		Validating:     whenConfigured(val, reg.ValidatingWebhookConfigurations().Informer()),
		client:         client, informers: factory,
	}, nil
}

// Start runs the informers the plugins read, and the controller that writes each
// policy's type-checking warnings to its status. Call it once the API answers.
func (p *Plugins) Start(ctx context.Context) {
	startTypeChecking(ctx, p.client, p.informers)
	p.informers.Start(ctx.Done())
}
