package auth

import (
	"context"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// RBACSource reads the RBAC objects (from the API server's cache).
type RBACSource interface {
	ClusterRoles() []*rbacv1.ClusterRole
	ClusterRoleBindings() []*rbacv1.ClusterRoleBinding
	Roles(namespace string) []*rbacv1.Role
	RoleBindings(namespace string) []*rbacv1.RoleBinding
}

// RBAC authorizes by Roles, ClusterRoles and their bindings, as Kubernetes does: a
// request is allowed when any rule bound to the user allows it; nothing denies.
type RBAC struct {
	Source RBACSource
}

// Authorize implements Authorizer.
func (r RBAC) Authorize(_ context.Context, a Attributes) (bool, string) {
	if a.User == nil {
		return false, ""
	}
	for _, rule := range r.RulesFor(a.User, a.Namespace) {
		if RuleAllows(rule, a) {
			return true, ""
		}
	}
	return false, ""
}

// RulesFor lists every rule that applies to user in namespace ("" = cluster-wide only).
func (r RBAC) RulesFor(user *User, namespace string) []rbacv1.PolicyRule {
	var rules []rbacv1.PolicyRule
	for _, b := range r.Source.ClusterRoleBindings() {
		if subjectsMatch(b.Subjects, user, "") && b.RoleRef.Kind == "ClusterRole" {
			rules = append(rules, r.ClusterRoleRules(b.RoleRef.Name)...)
		}
	}
	if namespace == "" {
		return rules
	}
	for _, b := range r.Source.RoleBindings(namespace) {
		if !subjectsMatch(b.Subjects, user, namespace) {
			continue
		}
		switch b.RoleRef.Kind {
		case "ClusterRole":
			rules = append(rules, r.ClusterRoleRules(b.RoleRef.Name)...)
		case "Role":
			for _, role := range r.Source.Roles(namespace) {
				if role.Name == b.RoleRef.Name {
					rules = append(rules, role.Rules...)
				}
			}
		}
	}
	return rules
}

// ClusterRoleRules are a ClusterRole's rules, with aggregated roles' rules folded in
// (computed here rather than by a controller, so they are never stale).
func (r RBAC) ClusterRoleRules(name string) []rbacv1.PolicyRule {
	all := r.Source.ClusterRoles()
	for _, cr := range all {
		if cr.Name != name {
			continue
		}
		rules := slices.Clone(cr.Rules)
		if cr.AggregationRule == nil {
			return rules
		}
		for _, sel := range cr.AggregationRule.ClusterRoleSelectors {
			s, err := metav1.LabelSelectorAsSelector(&sel)
			if err != nil || s.Empty() {
				continue
			}
			for _, other := range all {
				if other.Name != name && other.AggregationRule == nil && s.Matches(labels.Set(other.Labels)) {
					rules = append(rules, other.Rules...)
				}
			}
		}
		return rules
	}
	return nil
}

func subjectsMatch(subjects []rbacv1.Subject, u *User, bindingNamespace string) bool {
	for _, s := range subjects {
		switch s.Kind {
		case rbacv1.UserKind:
			if s.Name == u.Name {
				return true
			}
		case rbacv1.GroupKind:
			if u.InGroup(s.Name) {
				return true
			}
		case rbacv1.ServiceAccountKind:
			ns := s.Namespace
			if ns == "" {
				ns = bindingNamespace
			}
			if u.Name == ServiceAccountPrefix+ns+":"+s.Name {
				return true
			}
		}
	}
	return false
}

// RuleAllows reports whether one policy rule covers the request.
func RuleAllows(rule rbacv1.PolicyRule, a Attributes) bool {
	if !matches(rule.Verbs, a.Verb) {
		return false
	}
	if !a.IsResource() {
		for _, u := range rule.NonResourceURLs {
			if u == "*" || u == a.Path || (strings.HasSuffix(u, "*") && strings.HasPrefix(a.Path, strings.TrimSuffix(u, "*"))) {
				return true
			}
		}
		return false
	}
	if !matches(rule.APIGroups, a.APIGroup) || !resourceMatches(rule.Resources, a.Resource, a.Subresource) {
		return false
	}
	return len(rule.ResourceNames) == 0 || slices.Contains(rule.ResourceNames, a.Name)
}

func matches(list []string, v string) bool {
	return slices.Contains(list, "*") || slices.Contains(list, v)
}

func resourceMatches(list []string, resource, sub string) bool {
	combined := resource
	if sub != "" {
		combined = resource + "/" + sub
	}
	for _, r := range list {
		switch {
		case r == "*", r == combined:
			return true
		case sub != "" && (r == "*/"+sub || r == resource+"/*"):
			return true
		}
	}
	return false
}
