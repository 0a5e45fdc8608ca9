// Package podsecurity is the PodSecurity admission plugin: k8s.io/pod-security-admission
// (the library Kubernetes' own plugin wraps) applied to skiff's admission chain. It
// enforces, audits and warns by the pod-security.kubernetes.io/* labels of namespaces,
// and warns about existing pods when those labels change.
package podsecurity

import (
	"context"
	"fmt"

	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/warning"
	psa "k8s.io/pod-security-admission/admission"
	psaconfig "k8s.io/pod-security-admission/admission/api"
	"k8s.io/pod-security-admission/admission/api/load"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/metrics"
	"k8s.io/pod-security-admission/policy"
)

// Source is what the plugin reads: namespaces (for their labels) and the pods of a
// namespace (to warn about them when its labels change).
type Source interface {
	GetNamespace(ctx context.Context, name string) (*corev1.Namespace, error)
	ListPods(ctx context.Context, namespace string) ([]*corev1.Pod, error)
}

// Plugin is the PodSecurity admission plugin.
type Plugin struct {
	*admission.Handler
	delegate *psa.Admission
}

var _ admission.ValidationInterface = (*Plugin)(nil)

// LoadConfig reads a PodSecurityConfiguration file (the format of Kubernetes'
// PodSecurity admission plugin configuration: defaults and exemptions); an empty
// path gives the defaults: everything privileged, nothing exempt.
func LoadConfig(path string) (*psaconfig.PodSecurityConfiguration, error) {
	if path == "" {
		return load.LoadFromData(nil)
	}
	cfg, err := load.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("pod security configuration %s: %w", path, err)
	}
	return cfg, nil
}

// New returns the plugin for cfg over src.
func New(cfg *psaconfig.PodSecurityConfiguration, src Source) (*Plugin, error) {
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		return nil, err
	}
	d := &psa.Admission{
		Configuration:    cfg,
		Evaluator:        eval,
		Metrics:          noMetrics{},
		PodSpecExtractor: psa.DefaultPodSpecExtractor{},
		NamespaceGetter:  src,
		PodLister:        src,
	}
	if err := d.CompleteConfiguration(); err != nil {
		return nil, err
	}
	if err := d.ValidateConfiguration(); err != nil {
		return nil, err
	}
	return &Plugin{Handler: admission.NewHandler(admission.Create, admission.Update), delegate: d}, nil
}

// Validate evaluates pods, pod templates of workloads, and namespaces' labels. A
// refusal is the library's own status; warnings go back to the client.
func (p *Plugin) Validate(ctx context.Context, at admission.Attributes, _ admission.ObjectInterfaces) error {
	gr := at.GetResource().GroupResource()
	if gr != corev1.Resource("namespaces") && gr != corev1.Resource("pods") && !p.delegate.PodSpecExtractor.HasPodSpec(gr) {
		return nil
	}
	resp := p.delegate.Validate(ctx, attributes(at))
	for _, w := range resp.Warnings {
		warning.AddWarning(ctx, "", w)
	}
	for k, v := range resp.AuditAnnotations {
		_ = at.AddAnnotation("pod-security.kubernetes.io/"+k, v)
	}
	if resp.Allowed {
		return nil
	}
	if resp.Result == nil {
		return admission.NewForbidden(at, fmt.Errorf("refused by PodSecurity"))
	}
	return &apierrors.StatusError{ErrStatus: *resp.Result}
}

// attributes gives the library its view of a request. A Namespace request is made in
// the namespace itself, as the library (like Kubernetes) expects.
func attributes(at admission.Attributes) psaapi.Attributes {
	ns := at.GetNamespace()
	if at.GetResource().GroupResource() == corev1.Resource("namespaces") {
		ns = at.GetName()
	}
	user := ""
	if u := at.GetUserInfo(); u != nil {
		user = u.GetName()
	}
	return &psaapi.AttributesRecord{
		Name:        at.GetName(),
		Namespace:   ns,
		Kind:        at.GetKind(),
		Resource:    at.GetResource(),
		Subresource: at.GetSubresource(),
		Operation:   admissionv1.Operation(at.GetOperation()),
		Object:      at.GetObject(),
		OldObject:   at.GetOldObject(),
		Username:    user,
	}
}

// noMetrics drops the library's evaluation counters: skiff's request metrics already
// count refusals by code.
type noMetrics struct{}

func (noMetrics) RecordEvaluation(metrics.Decision, psaapi.LevelVersion, metrics.Mode, psaapi.Attributes) {
}
func (noMetrics) RecordExemption(psaapi.Attributes)   {}
func (noMetrics) RecordError(bool, psaapi.Attributes) {}
