// Package clusterroleaggregation fills the rules of ClusterRoles that have an
// aggregationRule with the rules of the ClusterRoles their selectors match, as
// Kubernetes' clusterrole-aggregation controller does: admin, edit and view grow when
// a CRD's roles carry the aggregate-to-* labels, and `kubectl get clusterrole admin`
// shows what it grants.
package clusterroleaggregation

import (
	"context"
	"sort"

	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	rbaclisters "k8s.io/client-go/listers/rbac/v1"

	"skiff/internal/controllers/controller"
)

// Controller keeps aggregated ClusterRoles' rules up to date.
type Controller struct {
	*controller.Controller
	c     *controller.Context
	roles rbaclisters.ClusterRoleLister
}

// New returns the controller.
func New(c *controller.Context) *Controller {
	inf := c.Informers.Rbac().V1().ClusterRoles()
	a := &Controller{c: c, roles: inf.Lister()}
	a.Controller = controller.New("clusterrole-aggregation", a.sync, 1)
	// Any ClusterRole's change may change what an aggregated role selects.
	_, _ = inf.Informer().AddEventHandler(controller.Each(func(any) { a.enqueueAggregated() }))
	a.HasSynced = append(a.HasSynced, inf.Informer().HasSynced)
	return a
}

func (a *Controller) enqueueAggregated() {
	roles, err := a.roles.List(labels.Everything())
	if err != nil {
		return
	}
	for _, r := range roles {
		if r.AggregationRule != nil {
			a.Queue.Add(r.Name)
		}
	}
}

func (a *Controller) sync(ctx context.Context, name string) error {
	role, err := a.roles.Get(name)
	if apierrors.IsNotFound(err) || (err == nil && role.AggregationRule == nil) {
		return nil
	}
	if err != nil {
		return err
	}
	all, err := a.roles.List(labels.Everything())
	if err != nil {
		return err
	}
	rules := Aggregate(role, all)
	if apiequality.Semantic.DeepEqual(rules, role.Rules) {
		return nil
	}
	upd := role.DeepCopy()
	upd.Rules = rules
	_, err = a.c.Client.RbacV1().ClusterRoles().Update(ctx, upd, metav1.UpdateOptions{})
	return err
}

// Aggregate is the rules role gathers from others: those of every other ClusterRole
// its selectors match, in name order, each rule once.
func Aggregate(role *rbacv1.ClusterRole, all []*rbacv1.ClusterRole) []rbacv1.PolicyRule {
	sort.Slice(all, func(i, j int) bool { return all[i].Name < all[j].Name })
	var rules []rbacv1.PolicyRule
	for _, sel := range role.AggregationRule.ClusterRoleSelectors {
		s, err := metav1.LabelSelectorAsSelector(&sel)
		if err != nil || s.Empty() {
			continue
		}
		for _, other := range all {
			if other.Name == role.Name || !s.Matches(labels.Set(other.Labels)) {
				continue
			}
			for _, r := range other.Rules {
				if !containsRule(rules, r) {
					rules = append(rules, r)
				}
			}
		}
	}
	return rules
}

func containsRule(rules []rbacv1.PolicyRule, r rbacv1.PolicyRule) bool {
	for _, have := range rules {
		if apiequality.Semantic.DeepEqual(have, r) {
			return true
		}
	}
	return false
}
