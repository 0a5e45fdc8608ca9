package resources

import (
	rbacv1 "k8s.io/api/rbac/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// RBAC names appear as URL path segments, so they only need to be valid there.
func rbacNameValid(name string, _ bool) []string { return path.IsValidPathSegmentName(name) }

func (roleStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	r, ok := obj.(*rbacv1.Role)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, rbacNameValid)
	for i, rule := range r.Rules {
		errs = append(errs, validateRBACRule(rule, true, field.NewPath("rules").Index(i))...)
	}
	return errs
}

func (clusterRoleStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	r, ok := obj.(*rbacv1.ClusterRole)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, rbacNameValid)
	for i, rule := range r.Rules {
		errs = append(errs, validateRBACRule(rule, false, field.NewPath("rules").Index(i))...)
	}
	if ar := r.AggregationRule; ar != nil {
		sp := field.NewPath("aggregationRule", "clusterRoleSelectors")
		if len(ar.ClusterRoleSelectors) == 0 {
			errs = append(errs, field.Required(sp, "at least one clusterRoleSelector required if aggregationRule is non-nil"))
		}
		for i := range ar.ClusterRoleSelectors {
			errs = append(errs, metav1validation.ValidateLabelSelector(&ar.ClusterRoleSelectors[i], metav1validation.LabelSelectorValidationOptions{}, sp.Index(i))...)
		}
	}
	return errs
}

func validateRBACRule(rule rbacv1.PolicyRule, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(rule.Verbs) == 0 {
		errs = append(errs, field.Required(p.Child("verbs"), "verbs must contain at least one value"))
	}
	if len(rule.NonResourceURLs) > 0 {
		// Non-resource URLs (/healthz, /metrics) exist outside any namespace.
		if namespaced {
			errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), rule.NonResourceURLs, "namespaced rules cannot apply to non-resource URLs"))
		}
		if len(rule.APIGroups) > 0 || len(rule.Resources) > 0 || len(rule.ResourceNames) > 0 {
			errs = append(errs, field.Invalid(p.Child("nonResourceURLs"), rule.NonResourceURLs, "rules cannot apply to both regular resources and non-resource URLs"))
		}
		return errs
	}
	if len(rule.APIGroups) == 0 {
		errs = append(errs, field.Required(p.Child("apiGroups"), "resource rules must supply at least one api group"))
	}
	if len(rule.Resources) == 0 {
		errs = append(errs, field.Required(p.Child("resources"), "resource rules must supply at least one resource"))
	}
	return errs
}

// Default fills the API group of roleRef and of User/Group subjects, which clients
// usually leave out.
func (roleBindingStrategy) Default(obj runtime.Object) {
	if b, ok := obj.(*rbacv1.RoleBinding); ok {
		rbacDefaultBinding(&b.RoleRef, b.Subjects)
	}
}

func (clusterRoleBindingStrategy) Default(obj runtime.Object) {
	if b, ok := obj.(*rbacv1.ClusterRoleBinding); ok {
		rbacDefaultBinding(&b.RoleRef, b.Subjects)
	}
}

func rbacDefaultBinding(ref *rbacv1.RoleRef, subjects []rbacv1.Subject) {
	if ref.APIGroup == "" {
		ref.APIGroup = rbacv1.GroupName
	}
	for i := range subjects {
		s := &subjects[i]
		if s.APIGroup == "" && (s.Kind == rbacv1.UserKind || s.Kind == rbacv1.GroupKind) {
			s.APIGroup = rbacv1.GroupName
		}
	}
}

func (roleBindingStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	b, ok := obj.(*rbacv1.RoleBinding)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, rbacNameValid)
	errs = append(errs, validateRBACRoleRef(b.RoleRef, []string{"Role", "ClusterRole"})...)
	for i, s := range b.Subjects {
		errs = append(errs, validateRBACSubject(s, true, field.NewPath("subjects").Index(i))...)
	}
	if oldB, ok := old.(*rbacv1.RoleBinding); ok {
		errs = append(errs, validateRBACRoleRefUnchanged(b.RoleRef, oldB.RoleRef)...)
	}
	return errs
}

func (clusterRoleBindingStrategy) Validate(obj, old runtime.Object) field.ErrorList {
	b, ok := obj.(*rbacv1.ClusterRoleBinding)
	if !ok {
		return nil
	}
	errs := validateMeta(obj, old, rbacNameValid)
	errs = append(errs, validateRBACRoleRef(b.RoleRef, []string{"ClusterRole"})...)
	for i, s := range b.Subjects {
		errs = append(errs, validateRBACSubject(s, false, field.NewPath("subjects").Index(i))...)
	}
	if oldB, ok := old.(*rbacv1.ClusterRoleBinding); ok {
		errs = append(errs, validateRBACRoleRefUnchanged(b.RoleRef, oldB.RoleRef)...)
	}
	return errs
}

// validateRBACRoleRefUnchanged: a binding grants exactly one role; pointing it at
// another would silently change what its subjects may do, so that takes a new binding.
func validateRBACRoleRefUnchanged(ref, old rbacv1.RoleRef) field.ErrorList {
	if ref != old {
		return field.ErrorList{field.Invalid(field.NewPath("roleRef"), ref, "cannot change roleRef")}
	}
	return nil
}

func validateRBACRoleRef(ref rbacv1.RoleRef, kinds []string) field.ErrorList {
	var errs field.ErrorList
	rp := field.NewPath("roleRef")
	if ref.APIGroup != rbacv1.GroupName {
		errs = append(errs, field.NotSupported(rp.Child("apiGroup"), ref.APIGroup, []string{rbacv1.GroupName}))
	}
	kindOK := false
	for _, k := range kinds {
		kindOK = kindOK || ref.Kind == k
	}
	if !kindOK {
		errs = append(errs, field.NotSupported(rp.Child("kind"), ref.Kind, kinds))
	}
	if ref.Name == "" {
		errs = append(errs, field.Required(rp.Child("name"), ""))
	} else {
		for _, msg := range rbacNameValid(ref.Name, false) {
			errs = append(errs, field.Invalid(rp.Child("name"), ref.Name, msg))
		}
	}
	return errs
}

func validateRBACSubject(s rbacv1.Subject, namespaced bool, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if s.Name == "" {
		errs = append(errs, field.Required(p.Child("name"), ""))
	}
	switch s.Kind {
	case rbacv1.ServiceAccountKind:
		if s.Name != "" {
			for _, msg := range apivalidation.NameIsDNSSubdomain(s.Name, false) {
				errs = append(errs, field.Invalid(p.Child("name"), s.Name, msg))
			}
		}
		if s.APIGroup != "" {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{""}))
		}
		// A cluster-wide binding cannot infer the service account's namespace.
		if !namespaced && s.Namespace == "" {
			errs = append(errs, field.Required(p.Child("namespace"), ""))
		}
	case rbacv1.UserKind, rbacv1.GroupKind:
		if s.APIGroup != rbacv1.GroupName {
			errs = append(errs, field.NotSupported(p.Child("apiGroup"), s.APIGroup, []string{rbacv1.GroupName}))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("kind"), s.Kind, []string{rbacv1.ServiceAccountKind, rbacv1.UserKind, rbacv1.GroupKind}))
	}
	return errs
}
