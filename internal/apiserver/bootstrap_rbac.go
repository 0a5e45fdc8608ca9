package apiserver

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/auth"
)

var (
	readVerbs  = []string{"get", "list", "watch"}
	writeVerbs = []string{"create", "delete", "deletecollection", "patch", "update"}
)

func rule(verbs []string, group string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{group}, Resources: resources}
}

// workloadRules are the namespaced objects the view/edit roles cover, by group.
var workloadRules = map[string][]string{
	"": {"pods", "pods/log", "pods/status", "services", "services/status", "endpoints", "configmaps",
		"persistentvolumeclaims", "persistentvolumeclaims/status", "replicationcontrollers", "replicationcontrollers/scale",
		"replicationcontrollers/status", "events", "limitranges", "resourcequotas", "resourcequotas/status", "serviceaccounts", "podtemplates", "bindings"},
	"apps":              {"deployments", "deployments/scale", "deployments/status", "replicasets", "replicasets/scale", "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status", "daemonsets", "daemonsets/status", "controllerrevisions"},
	"batch":             {"jobs", "jobs/status", "cronjobs", "cronjobs/status"},
	"autoscaling":       {"horizontalpodautoscalers", "horizontalpodautoscalers/status"},
	"policy":            {"poddisruptionbudgets", "poddisruptionbudgets/status"},
	"networking.k8s.io": {"ingresses", "ingresses/status", "networkpolicies"},
	"discovery.k8s.io":  {"endpointslices"},
	"events.k8s.io":     {"events"},
}

func clusterRole(name string, labels map[string]string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
	l := map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}
	for k, v := range labels {
		l[k] = v
	}
	return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l,
		Annotations: map[string]string{"rbac.authorization.kubernetes.io/autoupdate": "true"}}, Rules: rules}
}

func aggregated(name, label string) *rbacv1.ClusterRole {
	cr := clusterRole(name, nil)
	cr.AggregationRule = &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{label: "true"}}}}
	return cr
}

func aggregateTo(roles ...string) map[string]string {
	l := map[string]string{}
	for _, r := range roles {
		l["rbac.authorization.k8s.io/aggregate-to-"+r] = "true"
	}
	return l
}

func clusterBinding(name, role string, groups ...string) *rbacv1.ClusterRoleBinding {
	b := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"},
		Annotations: map[string]string{"rbac.authorization.kubernetes.io/autoupdate": "true"}},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role}}
	for _, g := range groups {
		b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: g})
	}
	return b
}

// defaultPolicy is the RBAC every cluster starts with, shaped like Kubernetes'
// bootstrap policy: cluster-admin, the aggregated admin/edit/view roles, and what
// every authenticated user may do (discover the API, ask what they may do).
func defaultPolicy() []runtime.Object {
	var view, edit []rbacv1.PolicyRule
	for g, rs := range workloadRules {
		view = append(view, rule(readVerbs, g, rs...))
		edit = append(edit, rule(writeVerbs, g, rs...))
	}
	edit = append(edit,
		rule(append(readVerbs, writeVerbs...), "", "secrets"),
		rule([]string{"create", "get"}, "", "pods/exec", "pods/attach", "pods/portforward", "pods/proxy"),
		rule([]string{"create"}, "", "pods/eviction", "serviceaccounts/token"),
		rule(readVerbs, "", "namespaces"),
	)
	discovery := rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*", "/healthz", "/livez", "/readyz", "/version", "/version/"}}
	return []runtime.Object{
		clusterRole("cluster-admin", nil, rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}},
			rbacv1.PolicyRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}),
		aggregated("admin", "rbac.authorization.k8s.io/aggregate-to-admin"),
		aggregated("edit", "rbac.authorization.k8s.io/aggregate-to-edit"),
		aggregated("view", "rbac.authorization.k8s.io/aggregate-to-view"),
		// Leaf roles carry the labels of every role that includes them: view ⊂ edit ⊂ admin.
		clusterRole("system:aggregate-to-view", aggregateTo("view", "edit", "admin"), view...),
		clusterRole("system:aggregate-to-edit", aggregateTo("edit", "admin"), edit...),
		clusterRole("system:aggregate-to-admin", aggregateTo("admin"),
			rule(append(readVerbs, writeVerbs...), "rbac.authorization.k8s.io", "roles", "rolebindings"),
			rule([]string{"create"}, "authorization.k8s.io", "localsubjectaccessreviews")),
		clusterRole("system:basic-user", nil, rule([]string{"create"}, "authorization.k8s.io", "selfsubjectaccessreviews", "selfsubjectrulesreviews"),
			rule([]string{"create"}, "authentication.k8s.io", "selfsubjectreviews")),
		clusterRole("system:discovery", nil, discovery),
		// Resource metrics for `kubectl top`, readable wherever pods are (metrics-server
		// ships this role with the same aggregation labels).
		clusterRole("system:aggregated-metrics-reader", aggregateTo("view", "edit", "admin"),
			rule([]string{"get", "list"}, "metrics.k8s.io", "pods", "nodes")),
		clusterRole("system:monitoring", nil, rbacv1.PolicyRule{Verbs: []string{"get"},
			NonResourceURLs: []string{"/metrics", "/metrics/slis", "/healthz", "/healthz/*", "/livez", "/livez/*", "/readyz", "/readyz/*"}}),
		// What the node authorizer grants every node besides its pods' objects; bound
		// to no one, as in Kubernetes (the node authorizer is the grant).
		clusterRole("system:node", nil, auth.NodeRules...),
		clusterRole("system:public-info-viewer", nil, rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz", "/livez", "/readyz", "/version", "/version/"}}),
		clusterRole("system:service-account-issuer-discovery", nil, rbacv1.PolicyRule{Verbs: []string{"get"},
			NonResourceURLs: []string{auth.OpenIDConfigurationPath, auth.OpenIDConfigurationPath + "/", auth.JWKSPath, auth.JWKSPath + "/"}}),
		// Kubernetes' role for bootstrapping kubelets, bound to no one: a join token's
		// whole grant is auth.BootstrapAuthorizer (cluster-info, and its own requests).
		clusterRole("system:node-bootstrapper", nil, rule([]string{"create", "get", "list", "watch"}, "certificates.k8s.io", "certificatesigningrequests")),
		// What an aggregated API server needs to authenticate and authorize the
		// requests the aggregator sends it: its service account is bound to these.
		clusterRole("system:auth-delegator", nil, rule([]string{"create"}, "authentication.k8s.io", "tokenreviews"),
			rule([]string{"create"}, "authorization.k8s.io", "subjectaccessreviews")),
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "extension-apiserver-authentication-reader", Namespace: "kube-system",
			Labels: map[string]string{"kubernetes.io/bootstrapping": "rbac-defaults"}},
			Rules: []rbacv1.PolicyRule{{Verbs: readVerbs, APIGroups: []string{""}, Resources: []string{"configmaps"},
				ResourceNames: []string{extensionAuthName}}}},
		clusterBinding("cluster-admin", "cluster-admin", auth.Masters),
		clusterBinding("system:basic-user", "system:basic-user", auth.Authenticated),
		clusterBinding("system:discovery", "system:discovery", auth.Authenticated),
		clusterBinding("system:monitoring", "system:monitoring", "system:monitoring"),
		clusterBinding("system:public-info-viewer", "system:public-info-viewer", auth.Authenticated),
		clusterBinding("system:service-account-issuer-discovery", "system:service-account-issuer-discovery", "system:serviceaccounts"),
	}
}
