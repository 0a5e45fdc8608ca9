package apiserver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	admissionapi "k8s.io/apiserver/pkg/admission"
	rbacvalidation "k8s.io/component-helpers/auth/rbac/validation"

	"skiff/internal/auth"
)

// rbacEscalation refuses RBAC writes that grant more than the writer holds, as
// Kubernetes' RBAC storage does: a Role or ClusterRole whose rules the writer does
// not hold needs the escalate verb on it, a binding to a role whose rules the writer
// does not hold needs the bind verb on that role. Without this, permission to write
// roles or bindings is permission to become cluster-admin.
type rbacEscalation struct{ api *API }

var _ admissionapi.ValidationInterface = rbacEscalation{}

func (rbacEscalation) Handles(op admissionapi.Operation) bool {
	return op == admissionapi.Create || op == admissionapi.Update
}

func (e rbacEscalation) Validate(ctx context.Context, at admissionapi.Attributes, _ admissionapi.ObjectInterfaces) error {
	if at.GetResource().Group != rbacv1.GroupName || at.GetSubresource() != "" {
		return nil
	}
	u := auth.UserFrom(ctx)
	if u == nil || u.InGroup(auth.Masters) { // in-process components, and the superuser group
		return nil
	}
	var err error
	switch obj := at.GetObject().(type) {
	case *rbacv1.Role:
		err = e.checkRole(ctx, u, "roles", obj.Namespace, obj.Name, obj.Rules, false)
	case *rbacv1.ClusterRole:
		err = e.checkRole(ctx, u, "clusterroles", "", obj.Name, obj.Rules, obj.AggregationRule != nil)
	case *rbacv1.RoleBinding:
		err = e.checkBinding(ctx, u, obj.Namespace, obj.RoleRef)
	case *rbacv1.ClusterRoleBinding:
		err = e.checkBinding(ctx, u, "", obj.RoleRef)
	}
	if err != nil {
		return admissionapi.NewForbidden(at, err)
	}
	return nil
}

// checkRole allows a role whose rules the user holds, or that the user may escalate.
// An aggregated ClusterRole gathers rules from roles yet to be written, so it needs
// every permission (or escalate).
func (e rbacEscalation) checkRole(ctx context.Context, u *auth.User, resource, ns, name string, rules []rbacv1.PolicyRule, aggregated bool) error {
	if e.may(ctx, u, "escalate", resource, ns, name) {
		return nil
	}
	if aggregated {
		if ok, _ := rbacvalidation.Covers(e.api.rbac.RulesFor(u, ""), fullAuthority); !ok {
			return errors.New("must have cluster-admin privileges to use the aggregationRule")
		}
		return nil
	}
	return e.covered(u, ns, rules)
}

// checkBinding allows a binding to a role whose rules the user holds, or that the
// user may bind.
func (e rbacEscalation) checkBinding(ctx context.Context, u *auth.User, ns string, ref rbacv1.RoleRef) error {
	resource := "clusterroles"
	if ref.Kind == "Role" {
		resource = "roles"
	}
	// Asked in the binding's namespace, as Kubernetes does: bind on a ClusterRole
	// granted by a RoleBinding lets its holder bind it in that namespace.
	if e.may(ctx, u, "bind", resource, ns, ref.Name) {
		return nil
	}
	rules, err := e.roleRules(ref.Kind, ns, ref.Name)
	if err != nil {
		return err
	}
	return e.covered(u, ns, rules)
}

// may asks the authorizer whether u holds verb (escalate or bind) on the role.
func (e rbacEscalation) may(ctx context.Context, u *auth.User, verb, resource, ns, name string) bool {
	ok, _ := e.api.authz.Authorize(ctx, auth.Attributes{User: u, Verb: verb, APIGroup: rbacv1.GroupName,
		Resource: resource, Namespace: ns, Name: name})
	return ok
}

// roleRules are the rules of the role a binding refers to (aggregated rules included).
func (e rbacEscalation) roleRules(kind, ns, name string) ([]rbacv1.PolicyRule, error) {
	src := rbacSource{api: e.api}
	if kind == "Role" {
		for _, r := range src.Roles(ns) {
			if r.Name == name {
				return r.Rules, nil
			}
		}
		return nil, fmt.Errorf("role.rbac.authorization.k8s.io %q not found", name)
	}
	for _, r := range src.ClusterRoles() {
		if r.Name == name {
			return e.api.rbac.ClusterRoleRules(name), nil
		}
	}
	return nil, fmt.Errorf("clusterrole.rbac.authorization.k8s.io %q not found", name)
}

// covered refuses rules the user does not hold in ns (cluster-wide for "").
func (e rbacEscalation) covered(u *auth.User, ns string, rules []rbacv1.PolicyRule) error {
	ok, missing := rbacvalidation.Covers(e.api.rbac.RulesFor(u, ns), rules)
	if ok {
		return nil
	}
	lines := make([]string, len(missing))
	for i, r := range missing {
		lines[i] = compactRule(r)
	}
	return fmt.Errorf("user %q (groups=%q) is attempting to grant RBAC permissions not currently held:\n%s",
		u.Name, u.Groups, strings.Join(lines, "\n"))
}

var fullAuthority = []rbacv1.PolicyRule{
	{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
	{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}},
}

// compactRule prints a rule as Kubernetes' escalation message does:
// {APIGroups:["*"], Resources:["*"], Verbs:["*"]}.
func compactRule(r rbacv1.PolicyRule) string {
	var parts []string
	add := func(name string, v []string) {
		if len(v) > 0 {
			parts = append(parts, fmt.Sprintf("%s:%s", name, quoteAll(v)))
		}
	}
	add("APIGroups", r.APIGroups)
	add("Resources", r.Resources)
	add("ResourceNames", r.ResourceNames)
	add("NonResourceURLs", r.NonResourceURLs)
	add("Verbs", r.Verbs)
	return "{" + strings.Join(parts, ", ") + "}"
}

func quoteAll(v []string) string {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, " ") + "]"
}
