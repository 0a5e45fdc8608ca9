package resources

import (
	"slices"
	"strings"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/mutating/patch"
	"k8s.io/apiserver/pkg/cel/environment"
	"k8s.io/utils/ptr"
)

// MutatingAdmissionPolicies change objects on their way in with CEL (an apply
// configuration merged as server-side apply would, or a JSON patch). They act through
// k8s.io/apiserver's MutatingAdmissionPolicy plugin (internal/admission); here they get
// Kubernetes' defaults and write-time checks, so a policy whose CEL does not compile is
// refused rather than failing every request it matches.
type (
	mutatingPolicyStrategy        struct{ generic }
	mutatingPolicyBindingStrategy struct{ generic }
)

var (
	patchTypes = []admissionv1.PatchType{admissionv1.PatchTypeApplyConfiguration, admissionv1.PatchTypeJSONPatch}
	// There is no object to mutate on DELETE.
	mutatingOperations = []admissionv1.OperationType{admissionv1.OperationAll, admissionv1.Create, admissionv1.Update, admissionv1.Connect}
)

func (mutatingPolicyStrategy) Default(obj runtime.Object) {
	p, ok := obj.(*admissionv1.MutatingAdmissionPolicy)
	if !ok {
		return
	}
	if p.Spec.FailurePolicy == nil {
		p.Spec.FailurePolicy = ptr.To(admissionv1.Fail)
	}
	defaultMatchResources(p.Spec.MatchConstraints)
}

func (mutatingPolicyBindingStrategy) Default(obj runtime.Object) {
	if b, ok := obj.(*admissionv1.MutatingAdmissionPolicyBinding); ok {
		defaultMatchResources(b.Spec.MatchResources)
	}
}

func (mutatingPolicyStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	p, ok := obj.(*admissionv1.MutatingAdmissionPolicy)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	sp := field.NewPath("spec")
	if fp := p.Spec.FailurePolicy; fp == nil {
		errs = append(errs, field.Required(sp.Child("failurePolicy"), ""))
	} else if !slices.Contains(failurePolicies, *fp) {
		errs = append(errs, field.NotSupported(sp.Child("failurePolicy"), *fp, failurePolicies))
	}
	errs = append(errs, validateParamKind(sp.Child("paramKind"), p.Spec.ParamKind)...)
	if m := p.Spec.MatchConstraints; m == nil {
		errs = append(errs, field.Required(sp.Child("matchConstraints"), ""))
	} else {
		errs = append(errs, validateMatchResources(sp.Child("matchConstraints"), m)...)
		// The rules give the policy's CEL the types it works on.
		if len(m.ResourceRules) == 0 {
			errs = append(errs, field.Required(sp.Child("matchConstraints", "resourceRules"), ""))
		}
		errs = append(errs, validateMutatingOperations(sp.Child("matchConstraints", "resourceRules", "operations"), m)...)
	}
	if r := p.Spec.ReinvocationPolicy; r == "" {
		errs = append(errs, field.Required(sp.Child("reinvocationPolicy"), ""))
	} else if !slices.Contains(reinvocationPolicies, r) {
		errs = append(errs, field.NotSupported(sp.Child("reinvocationPolicy"), r, reinvocationPolicies))
	}
	if len(p.Spec.Mutations) == 0 {
		errs = append(errs, field.Required(sp.Child("mutations"), "mutations must contain at least one item"))
	}
	return append(errs, compileMutatingPolicy(sp, p)...)
}

// validateMutatingOperations refuses DELETE in a mutating policy's rules.
func validateMutatingOperations(p *field.Path, m *admissionv1.MatchResources) field.ErrorList {
	var errs field.ErrorList
	for _, r := range m.ResourceRules {
		for _, op := range r.Operations {
			if !slices.Contains(mutatingOperations, op) {
				errs = append(errs, field.NotSupported(p, op, mutatingOperations))
			}
		}
	}
	return errs
}

// compileMutatingPolicy compiles the policy's variables, match conditions and
// mutations as the admission plugin will, naming the field of each that fails.
func compileMutatingPolicy(sp *field.Path, p *admissionv1.MutatingAdmissionPolicy) field.ErrorList {
	c, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return field.ErrorList{field.InternalError(sp, err)}
	}
	opts := plugincel.OptionalVariableDeclarations{HasParams: p.Spec.ParamKind != nil, HasAuthorizer: true}
	errs := compileVariables(c, sp.Child("variables"), p.Spec.Variables, opts)
	errs = append(errs, compileMatchConditions(c, sp.Child("matchConditions"), p.Spec.MatchConditions, opts)...)
	patchOpts := opts
	patchOpts.HasPatchTypes = true
	for i, m := range p.Spec.Mutations {
		errs = append(errs, compileMutation(c, sp.Child("mutations").Index(i), m, patchOpts)...)
	}
	return errs
}

// compileMutation checks that a mutation carries the expression its patchType names,
// and only that one, and that the expression compiles.
func compileMutation(c *plugincel.CompositedCompiler, mp *field.Path, m admissionv1.Mutation, opts plugincel.OptionalVariableDeclarations) field.ErrorList {
	var expr plugincel.ExpressionAccessor
	var ep *field.Path
	var errs field.ErrorList
	switch m.PatchType {
	case "":
		return field.ErrorList{field.Required(mp.Child("patchType"), "")}
	case admissionv1.PatchTypeApplyConfiguration:
		if m.JSONPatch != nil {
			errs = append(errs, field.Invalid(mp.Child("jsonPatch"), "{jsonPatch}", "must not be specified when patchType is ApplyConfiguration"))
		}
		if m.ApplyConfiguration == nil {
			return append(errs, field.Required(mp.Child("applyConfiguration"), "must be specified when patchType is ApplyConfiguration"))
		}
		ep = mp.Child("applyConfiguration", "expression")
		expr = &patch.ApplyConfigurationCondition{Expression: strings.TrimSpace(m.ApplyConfiguration.Expression)}
	case admissionv1.PatchTypeJSONPatch:
		if m.ApplyConfiguration != nil {
			errs = append(errs, field.Invalid(mp.Child("applyConfiguration"), "{applyConfiguration}", "must not be specified when patchType is JSONPatch"))
		}
		if m.JSONPatch == nil {
			return append(errs, field.Required(mp.Child("jsonPatch"), "must be specified when patchType is JSONPatch"))
		}
		ep = mp.Child("jsonPatch", "expression")
		expr = &patch.JSONPatchCondition{Expression: strings.TrimSpace(m.JSONPatch.Expression)}
	default:
		return field.ErrorList{field.NotSupported(mp.Child("patchType"), m.PatchType, patchTypes)}
	}
	if expr.GetExpression() == "" {
		return append(errs, field.Required(ep, ""))
	}
	return append(errs, compileError(ep, expr.GetExpression(), c.CompileCELExpression(expr, opts, environment.StoredExpressions))...)
}

func (mutatingPolicyBindingStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	b, ok := obj.(*admissionv1.MutatingAdmissionPolicyBinding)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, apivalidation.NameIsDNSSubdomain)
	sp := field.NewPath("spec")
	if b.Spec.PolicyName == "" {
		errs = append(errs, field.Required(sp.Child("policyName"), ""))
	} else {
		for _, msg := range apivalidation.NameIsDNSSubdomain(b.Spec.PolicyName, false) {
			errs = append(errs, field.Invalid(sp.Child("policyName"), b.Spec.PolicyName, msg))
		}
	}
	errs = append(errs, validateParamRef(sp.Child("paramRef"), b.Spec.ParamRef)...)
	if m := b.Spec.MatchResources; m != nil {
		errs = append(errs, validateMatchResources(sp.Child("matchResources"), m)...)
		errs = append(errs, validateMutatingOperations(sp.Child("matchResources", "resourceRules", "operations"), m)...)
	}
	return errs
}
