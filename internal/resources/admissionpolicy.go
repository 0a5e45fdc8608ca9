package resources

import (
	"slices"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	"k8s.io/apiserver/pkg/admission/plugin/webhook/matchconditions"
	"k8s.io/apiserver/pkg/cel/environment"
)

var validationActions = []admissionv1.ValidationAction{admissionv1.Deny, admissionv1.Warn, admissionv1.Audit}

func (policyStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	p, ok := obj.(*admissionv1.ValidatingAdmissionPolicy)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	sp := field.NewPath("spec")
	errs = append(errs, validateParamKind(sp.Child("paramKind"), p.Spec.ParamKind)...)
	if p.Spec.MatchConstraints == nil {
		errs = append(errs, field.Required(sp.Child("matchConstraints"), ""))
	} else if len(p.Spec.MatchConstraints.ResourceRules) == 0 {
		errs = append(errs, field.Required(sp.Child("matchConstraints", "resourceRules"), ""))
	} else {
		errs = append(errs, validateMatchResources(sp.Child("matchConstraints"), p.Spec.MatchConstraints)...)
	}
	if fp := p.Spec.FailurePolicy; fp != nil && !slices.Contains(failurePolicies, *fp) {
		errs = append(errs, field.NotSupported(sp.Child("failurePolicy"), *fp, failurePolicies))
	}
	if len(p.Spec.Validations) == 0 && len(p.Spec.AuditAnnotations) == 0 {
		errs = append(errs, field.Required(sp.Child("validations"), "validations or auditAnnotations must contain at least one item"))
	}
	return append(errs, compilePolicyExpressions(sp, p)...)
}

// compilePolicyExpressions compiles every CEL expression of the policy the way the
// admission plugin will, so one that cannot compile is refused naming its field.
func compilePolicyExpressions(sp *field.Path, p *admissionv1.ValidatingAdmissionPolicy) field.ErrorList {
	c, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return field.ErrorList{field.InternalError(sp, err)}
	}
	opts := plugincel.OptionalVariableDeclarations{HasParams: p.Spec.ParamKind != nil, HasAuthorizer: true}
	errs := compileVariables(c, sp.Child("variables"), p.Spec.Variables, opts)
	errs = append(errs, compileMatchConditions(c, sp.Child("matchConditions"), p.Spec.MatchConditions, opts)...)
	for i, v := range p.Spec.Validations {
		vp := sp.Child("validations").Index(i)
		if v.Expression == "" {
			errs = append(errs, field.Required(vp.Child("expression"), ""))
			continue
		}
		r := c.CompileCELExpression(&validating.ValidationCondition{Expression: v.Expression}, opts, environment.StoredExpressions)
		errs = append(errs, compileError(vp.Child("expression"), v.Expression, r)...)
		if v.MessageExpression != "" {
			mopts := plugincel.OptionalVariableDeclarations{HasParams: opts.HasParams}
			r := c.CompileCELExpression(&validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}, mopts, environment.StoredExpressions)
			errs = append(errs, compileError(vp.Child("messageExpression"), v.MessageExpression, r)...)
		}
	}
	for i, a := range p.Spec.AuditAnnotations {
		ap := sp.Child("auditAnnotations").Index(i)
		if a.Key == "" {
			errs = append(errs, field.Required(ap.Child("key"), ""))
		}
		r := c.CompileCELExpression(&validating.AuditAnnotationCondition{Key: a.Key, ValueExpression: a.ValueExpression}, opts, environment.StoredExpressions)
		errs = append(errs, compileError(ap.Child("valueExpression"), a.ValueExpression, r)...)
	}
	return errs
}

// validateParamKind requires a group/version and a kind when a policy takes params.
func validateParamKind(p *field.Path, k *admissionv1.ParamKind) field.ErrorList {
	if k == nil {
		return nil
	}
	var errs field.ErrorList
	if _, err := schema.ParseGroupVersion(k.APIVersion); err != nil || k.APIVersion == "" {
		errs = append(errs, field.Invalid(p.Child("apiVersion"), k.APIVersion, "must be a valid group/version"))
	}
	if k.Kind == "" {
		errs = append(errs, field.Required(p.Child("kind"), ""))
	}
	return errs
}

// compileVariables compiles a policy's variables in order, storing each so that later
// expressions may use it as variables.NAME.
func compileVariables(c *plugincel.CompositedCompiler, p *field.Path, vars []admissionv1.Variable, opts plugincel.OptionalVariableDeclarations) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, v := range vars {
		vp := p.Index(i)
		if v.Name == "" {
			errs = append(errs, field.Required(vp.Child("name"), ""))
		} else if names.Has(v.Name) {
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		}
		names.Insert(v.Name)
		r := c.CompileAndStoreVariable(&validating.Variable{Name: v.Name, Expression: v.Expression}, opts, environment.StoredExpressions)
		errs = append(errs, compileError(vp.Child("expression"), v.Expression, r)...)
	}
	return errs
}

// validateMatchConditions checks a webhook's matchConditions: unique names, and CEL
// that compiles with the variables webhooks see (no params).
func validateMatchConditions(p *field.Path, conds []admissionv1.MatchCondition, params bool) field.ErrorList {
	if len(conds) == 0 {
		return nil
	}
	c, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return field.ErrorList{field.InternalError(p, err)}
	}
	return compileMatchConditions(c, p, conds, plugincel.OptionalVariableDeclarations{HasParams: params, HasAuthorizer: true})
}

func compileMatchConditions(c *plugincel.CompositedCompiler, p *field.Path, conds []admissionv1.MatchCondition, opts plugincel.OptionalVariableDeclarations) field.ErrorList {
	var errs field.ErrorList
	names := sets.New[string]()
	for i, m := range conds {
		mp := p.Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(mp.Child("name"), ""))
		} else if names.Has(m.Name) {
			errs = append(errs, field.Duplicate(mp.Child("name"), m.Name))
		}
		names.Insert(m.Name)
		if m.Expression == "" {
			errs = append(errs, field.Required(mp.Child("expression"), ""))
			continue
		}
		mc := matchconditions.MatchCondition(m)
		errs = append(errs, compileError(mp.Child("expression"), m.Expression, c.CompileCELExpression(&mc, opts, environment.StoredExpressions))...)
	}
	return errs
}

func compileError(p *field.Path, expr string, r plugincel.CompilationResult) field.ErrorList {
	if r.Error == nil {
		return nil
	}
	// The library's detail already says "compilation failed: ..." where it did.
	return field.ErrorList{field.Invalid(p, expr, r.Error.Detail)}
}

func (policyBindingStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	b, ok := obj.(*admissionv1.ValidatingAdmissionPolicyBinding)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	sp := field.NewPath("spec")
	if b.Spec.PolicyName == "" {
		errs = append(errs, field.Required(sp.Child("policyName"), ""))
	}
	if len(b.Spec.ValidationActions) == 0 {
		errs = append(errs, field.Required(sp.Child("validationActions"), ""))
	}
	seen := sets.New[admissionv1.ValidationAction]()
	for i, a := range b.Spec.ValidationActions {
		ap := sp.Child("validationActions").Index(i)
		switch {
		case !slices.Contains(validationActions, a):
			errs = append(errs, field.NotSupported(ap, a, validationActions))
		case seen.Has(a):
			errs = append(errs, field.Duplicate(ap, a))
		}
		seen.Insert(a)
	}
	if seen.Has(admissionv1.Deny) && seen.Has(admissionv1.Warn) {
		errs = append(errs, field.Invalid(sp.Child("validationActions"), b.Spec.ValidationActions, "must not contain both Deny and Warn (repeating the same validation failure information in the API response and headers serves no purpose)"))
	}
	errs = append(errs, validateParamRef(sp.Child("paramRef"), b.Spec.ParamRef)...)
	if m := b.Spec.MatchResources; m != nil {
		errs = append(errs, validateMatchResources(sp.Child("matchResources"), m)...)
	}
	return errs
}

// validateParamRef checks a binding's reference to its params: a name or a selector,
// and what to do when none is found.
func validateParamRef(p *field.Path, r *admissionv1.ParamRef) field.ErrorList {
	if r == nil {
		return nil
	}
	var errs field.ErrorList
	if (r.Name == "") == (r.Selector == nil) {
		errs = append(errs, field.Forbidden(p, "one of name or selector must be specified"))
	}
	errs = append(errs, validateSelector(p.Child("selector"), r.Selector)...)
	actions := []admissionv1.ParameterNotFoundActionType{admissionv1.AllowAction, admissionv1.DenyAction}
	if r.ParameterNotFoundAction == nil {
		errs = append(errs, field.Required(p.Child("parameterNotFoundAction"), ""))
	} else if !slices.Contains(actions, *r.ParameterNotFoundAction) {
		errs = append(errs, field.NotSupported(p.Child("parameterNotFoundAction"), *r.ParameterNotFoundAction, actions))
	}
	return errs
}

func validateMatchResources(p *field.Path, m *admissionv1.MatchResources) field.ErrorList {
	var errs field.ErrorList
	if mp := m.MatchPolicy; mp != nil && !slices.Contains(matchPolicies, *mp) {
		errs = append(errs, field.NotSupported(p.Child("matchPolicy"), *mp, matchPolicies))
	}
	errs = append(errs, validateSelector(p.Child("namespaceSelector"), m.NamespaceSelector)...)
	errs = append(errs, validateSelector(p.Child("objectSelector"), m.ObjectSelector)...)
	for i, r := range m.ResourceRules {
		errs = append(errs, validateRule(p.Child("resourceRules").Index(i), r.RuleWithOperations)...)
	}
	for i, r := range m.ExcludeResourceRules {
		errs = append(errs, validateRule(p.Child("excludeResourceRules").Index(i), r.RuleWithOperations)...)
	}
	return errs
}
