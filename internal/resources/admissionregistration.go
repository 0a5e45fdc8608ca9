package resources

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

// The admission configuration kinds: webhook configurations and admission policies.
// Their rules act through k8s.io/apiserver's admission plugins (internal/admission);
// here they get Kubernetes' defaults and the checks that keep a broken configuration
// out of the store, so a bad webhook or policy is refused at write time rather than
// failing every later request.
type (
	mutatingWebhookStrategy   struct{ generic }
	validatingWebhookStrategy struct{ generic }
	policyStrategy            struct{ generic }
	policyBindingStrategy     struct{ generic }
)

func (mutatingWebhookStrategy) Default(obj runtime.Object) {
	c, ok := obj.(*admissionv1.MutatingWebhookConfiguration)
	if !ok {
		return
	}
	for i := range c.Webhooks {
		h := &c.Webhooks[i]
		defaultWebhook(&h.FailurePolicy, &h.MatchPolicy, &h.NamespaceSelector, &h.ObjectSelector, &h.TimeoutSeconds, h.Rules, &h.ClientConfig)
		if h.ReinvocationPolicy == nil {
			h.ReinvocationPolicy = ptr.To(admissionv1.NeverReinvocationPolicy)
		}
	}
}

func (validatingWebhookStrategy) Default(obj runtime.Object) {
	c, ok := obj.(*admissionv1.ValidatingWebhookConfiguration)
	if !ok {
		return
	}
	for i := range c.Webhooks {
		h := &c.Webhooks[i]
		defaultWebhook(&h.FailurePolicy, &h.MatchPolicy, &h.NamespaceSelector, &h.ObjectSelector, &h.TimeoutSeconds, h.Rules, &h.ClientConfig)
	}
}

// defaultWebhook fills what the two webhook kinds share, with Kubernetes' v1 defaults.
func defaultWebhook(fp **admissionv1.FailurePolicyType, mp **admissionv1.MatchPolicyType, ns, objs **metav1.LabelSelector,
	timeout **int32, rules []admissionv1.RuleWithOperations, cc *admissionv1.WebhookClientConfig) {
	if *fp == nil {
		*fp = ptr.To(admissionv1.Fail)
	}
	if *mp == nil {
		*mp = ptr.To(admissionv1.Equivalent)
	}
	if *ns == nil {
		*ns = &metav1.LabelSelector{}
	}
	if *objs == nil {
		*objs = &metav1.LabelSelector{}
	}
	if *timeout == nil {
		*timeout = ptr.To[int32](10)
	}
	for i := range rules {
		if rules[i].Scope == nil {
			rules[i].Scope = ptr.To(admissionv1.AllScopes)
		}
	}
	if cc.Service != nil && cc.Service.Port == nil {
		cc.Service.Port = ptr.To[int32](443)
	}
}

func (policyStrategy) Default(obj runtime.Object) {
	p, ok := obj.(*admissionv1.ValidatingAdmissionPolicy)
	if !ok {
		return
	}
	if p.Spec.FailurePolicy == nil {
		p.Spec.FailurePolicy = ptr.To(admissionv1.Fail)
	}
	defaultMatchResources(p.Spec.MatchConstraints)
}

func (policyBindingStrategy) Default(obj runtime.Object) {
	if b, ok := obj.(*admissionv1.ValidatingAdmissionPolicyBinding); ok {
		defaultMatchResources(b.Spec.MatchResources)
	}
}

func defaultMatchResources(m *admissionv1.MatchResources) {
	if m == nil {
		return
	}
	if m.MatchPolicy == nil {
		m.MatchPolicy = ptr.To(admissionv1.Equivalent)
	}
	if m.NamespaceSelector == nil {
		m.NamespaceSelector = &metav1.LabelSelector{}
	}
	if m.ObjectSelector == nil {
		m.ObjectSelector = &metav1.LabelSelector{}
	}
	for _, rules := range [][]admissionv1.NamedRuleWithOperations{m.ResourceRules, m.ExcludeResourceRules} {
		for i := range rules {
			if rules[i].Scope == nil {
				rules[i].Scope = ptr.To(admissionv1.AllScopes)
			}
		}
	}
}

func (mutatingWebhookStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	c, ok := obj.(*admissionv1.MutatingWebhookConfiguration)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	names := sets.New[string]()
	for i, h := range c.Webhooks {
		p := field.NewPath("webhooks").Index(i)
		errs = append(errs, validateWebhook(p, names, h.Name, h.ClientConfig, h.Rules, h.FailurePolicy, h.MatchPolicy, h.SideEffects,
			h.TimeoutSeconds, h.AdmissionReviewVersions, h.NamespaceSelector, h.ObjectSelector, h.MatchConditions)...)
		if r := h.ReinvocationPolicy; r != nil && !slices.Contains(reinvocationPolicies, *r) {
			errs = append(errs, field.NotSupported(p.Child("reinvocationPolicy"), *r, reinvocationPolicies))
		}
	}
	return errs
}

func (validatingWebhookStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	c, ok := obj.(*admissionv1.ValidatingWebhookConfiguration)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	names := sets.New[string]()
	for i, h := range c.Webhooks {
		errs = append(errs, validateWebhook(field.NewPath("webhooks").Index(i), names, h.Name, h.ClientConfig, h.Rules, h.FailurePolicy,
			h.MatchPolicy, h.SideEffects, h.TimeoutSeconds, h.AdmissionReviewVersions, h.NamespaceSelector, h.ObjectSelector, h.MatchConditions)...)
	}
	return errs
}

var (
	failurePolicies      = []admissionv1.FailurePolicyType{admissionv1.Ignore, admissionv1.Fail}
	matchPolicies        = []admissionv1.MatchPolicyType{admissionv1.Exact, admissionv1.Equivalent}
	sideEffectClasses    = []admissionv1.SideEffectClass{admissionv1.SideEffectClassNone, admissionv1.SideEffectClassNoneOnDryRun}
	reinvocationPolicies = []admissionv1.ReinvocationPolicyType{admissionv1.NeverReinvocationPolicy, admissionv1.IfNeededReinvocationPolicy}
	operations           = []admissionv1.OperationType{admissionv1.OperationAll, admissionv1.Create, admissionv1.Update, admissionv1.Delete, admissionv1.Connect}
	scopes               = []admissionv1.ScopeType{admissionv1.ClusterScope, admissionv1.NamespacedScope, admissionv1.AllScopes}
	reviewVersions       = []string{"v1", "v1beta1"}
)

// validateWebhook checks one webhook of either kind; names collects the names seen so
// far, which must be unique within a configuration.
func validateWebhook(p *field.Path, names sets.Set[string], name string, cc admissionv1.WebhookClientConfig, rules []admissionv1.RuleWithOperations,
	fp *admissionv1.FailurePolicyType, mp *admissionv1.MatchPolicyType, se *admissionv1.SideEffectClass, timeout *int32, versions []string,
	ns, objs *metav1.LabelSelector, conds []admissionv1.MatchCondition) field.ErrorList {
	var errs field.ErrorList
	// A webhook's name is a fully qualified name: a DNS subdomain of three or more parts.
	if msgs := validation.IsDNS1123Subdomain(name); len(msgs) > 0 || strings.Count(name, ".") < 2 {
		errs = append(errs, field.Invalid(p.Child("name"), name, "should be a domain with at least three segments separated by dots"))
	} else if names.Has(name) {
		errs = append(errs, field.Duplicate(p.Child("name"), name))
	}
	names.Insert(name)
	errs = append(errs, validateClientConfig(p.Child("clientConfig"), cc)...)
	for j, r := range rules {
		errs = append(errs, validateRule(p.Child("rules").Index(j), r)...)
	}
	if fp != nil && !slices.Contains(failurePolicies, *fp) {
		errs = append(errs, field.NotSupported(p.Child("failurePolicy"), *fp, failurePolicies))
	}
	if mp != nil && !slices.Contains(matchPolicies, *mp) {
		errs = append(errs, field.NotSupported(p.Child("matchPolicy"), *mp, matchPolicies))
	}
	if se == nil {
		errs = append(errs, field.Required(p.Child("sideEffects"), fmt.Sprintf("must specify one of %v", sideEffectClasses)))
	} else if !slices.Contains(sideEffectClasses, *se) {
		errs = append(errs, field.NotSupported(p.Child("sideEffects"), *se, sideEffectClasses))
	}
	if timeout != nil && (*timeout < 1 || *timeout > 30) {
		errs = append(errs, field.Invalid(p.Child("timeoutSeconds"), *timeout, "the timeout value must be between 1 and 30 seconds"))
	}
	if len(versions) == 0 {
		errs = append(errs, field.Required(p.Child("admissionReviewVersions"), fmt.Sprintf("must specify one of %v", strings.Join(reviewVersions, ", "))))
	} else if !slices.ContainsFunc(versions, func(v string) bool { return slices.Contains(reviewVersions, v) }) {
		errs = append(errs, field.Invalid(p.Child("admissionReviewVersions"), versions, fmt.Sprintf("must include at least one of %v", strings.Join(reviewVersions, ", "))))
	}
	errs = append(errs, validateSelector(p.Child("namespaceSelector"), ns)...)
	errs = append(errs, validateSelector(p.Child("objectSelector"), objs)...)
	return append(errs, validateMatchConditions(p.Child("matchConditions"), conds, false)...)
}

func validateSelector(p *field.Path, s *metav1.LabelSelector) field.ErrorList {
	if s == nil {
		return nil
	}
	return metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, p)
}

// validateClientConfig requires exactly one of url and service, as the dispatcher
// would otherwise not know where to send a review.
func validateClientConfig(p *field.Path, cc admissionv1.WebhookClientConfig) field.ErrorList {
	var errs field.ErrorList
	switch {
	case cc.URL == nil && cc.Service == nil:
		return field.ErrorList{field.Required(p, "exactly one of url or service is required")}
	case cc.URL != nil && cc.Service != nil:
		return field.ErrorList{field.Required(p, "exactly one of url or service is required")}
	case cc.URL != nil:
		u, err := url.Parse(*cc.URL)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(p.Child("url"), *cc.URL, err.Error()))
		case u.Scheme != "https":
			errs = append(errs, field.Invalid(p.Child("url"), *cc.URL, "'https' is the only allowed URL scheme"))
		case u.Host == "":
			errs = append(errs, field.Invalid(p.Child("url"), *cc.URL, "host must be specified"))
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			errs = append(errs, field.Invalid(p.Child("url"), *cc.URL, "user information, query parameters and fragments are not permitted"))
		}
	default:
		s, sp := cc.Service, p.Child("service")
		if s.Name == "" {
			errs = append(errs, field.Required(sp.Child("name"), "service name is required"))
		}
		if s.Namespace == "" {
			errs = append(errs, field.Required(sp.Child("namespace"), "service namespace is required"))
		}
		if s.Port != nil && (*s.Port < 1 || *s.Port > 65535) {
			errs = append(errs, field.Invalid(sp.Child("port"), *s.Port, "port is not valid: must be between 1 and 65535, inclusive"))
		}
		// An empty path means the root, as in Kubernetes.
		if s.Path != nil && *s.Path != "" && !strings.HasPrefix(*s.Path, "/") {
			errs = append(errs, field.Invalid(sp.Child("path"), *s.Path, "must start with a '/'"))
		}
	}
	return errs
}

func validateRule(p *field.Path, r admissionv1.RuleWithOperations) field.ErrorList {
	var errs field.ErrorList
	if len(r.Operations) == 0 {
		errs = append(errs, field.Required(p.Child("operations"), ""))
	}
	for i, op := range r.Operations {
		if !slices.Contains(operations, op) {
			errs = append(errs, field.NotSupported(p.Child("operations").Index(i), op, operations))
		}
	}
	for _, f := range []struct {
		name string
		list []string
	}{{"apiGroups", r.APIGroups}, {"apiVersions", r.APIVersions}, {"resources", r.Resources}} {
		if len(f.list) == 0 {
			errs = append(errs, field.Required(p.Child(f.name), ""))
		}
		if len(f.list) > 1 && slices.Contains(f.list, "*") {
			errs = append(errs, field.Invalid(p.Child(f.name), f.list, "if '*' is present, must not specify other values"))
		}
	}
	if r.Scope != nil && !slices.Contains(scopes, *r.Scope) {
		errs = append(errs, field.NotSupported(p.Child("scope"), *r.Scope, scopes))
	}
	return errs
}
