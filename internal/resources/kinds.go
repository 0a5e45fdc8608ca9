package resources

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	all = []string{"all"}

	core        = schema.GroupVersion{Version: "v1"}
	apps        = schema.GroupVersion{Group: "apps", Version: "v1"}
	batch       = schema.GroupVersion{Group: "batch", Version: "v1"}
	autoscaling = schema.GroupVersion{Group: "autoscaling", Version: "v2"}
	policy      = schema.GroupVersion{Group: "policy", Version: "v1"}
	networking  = schema.GroupVersion{Group: "networking.k8s.io", Version: "v1"}
	rbac        = schema.GroupVersion{Group: "rbac.authorization.k8s.io", Version: "v1"}
	storage     = schema.GroupVersion{Group: "storage.k8s.io", Version: "v1"}
	scheduling  = schema.GroupVersion{Group: "scheduling.k8s.io", Version: "v1"}
	coordinate  = schema.GroupVersion{Group: "coordination.k8s.io", Version: "v1"}
	discovery   = schema.GroupVersion{Group: "discovery.k8s.io", Version: "v1"}
	events      = schema.GroupVersion{Group: "events.k8s.io", Version: "v1"}
	authz       = schema.GroupVersion{Group: "authorization.k8s.io", Version: "v1"}
	authn       = schema.GroupVersion{Group: "authentication.k8s.io", Version: "v1"}
	metrics     = schema.GroupVersion{Group: "metrics.k8s.io", Version: "v1beta1"}
	certificate = schema.GroupVersion{Group: "certificates.k8s.io", Version: "v1"}
	admission   = schema.GroupVersion{Group: "admissionregistration.k8s.io", Version: "v1"}
	aggregation = schema.GroupVersion{Group: "apiregistration.k8s.io", Version: "v1"}
)

// kind is shorthand for one row of the table below.
type kind struct {
	gv         schema.GroupVersion
	resource   string
	kind       string
	namespaced bool
	short      []string
	categories []string
	subs       []string
	strategy   Strategy
}

func (k kind) info() *Info {
	return &Info{
		GroupVersionResource: k.gv.WithResource(k.resource),
		Kind:                 k.kind,
		ListKind:             k.kind + "List",
		Singular:             singular(k.kind),
		ShortNames:           k.short,
		Categories:           k.categories,
		Namespaced:           k.namespaced,
		Subresources:         k.subs,
		Storage:              k.gv,
		Strategy:             k.strategy,
	}
}

// All returns every served resource, the preferred version of each group first.
func All() []*Info {
	rows := []kind{
		{core, "namespaces", "Namespace", false, []string{"ns"}, nil, []string{"status", "finalize"}, namespaceStrategy{}},
		{core, "pods", "Pod", true, []string{"po"}, all, []string{"status", "binding", "log", "exec", "attach", "portforward", "eviction", "ephemeralcontainers", "resize", "proxy"}, podStrategy{}},
		{core, "services", "Service", true, []string{"svc"}, all, []string{"status", "proxy"}, serviceStrategy{}},
		{core, "endpoints", "Endpoints", true, []string{"ep"}, nil, nil, endpointsStrategy{}},
		{core, "configmaps", "ConfigMap", true, []string{"cm"}, nil, nil, configMapStrategy{}},
		{core, "secrets", "Secret", true, nil, nil, nil, secretStrategy{}},
		{core, "serviceaccounts", "ServiceAccount", true, []string{"sa"}, nil, []string{"token"}, serviceAccountStrategy{}},
		{core, "nodes", "Node", false, []string{"no"}, nil, []string{"status", "proxy"}, nodeStrategy{}},
		{core, "events", "Event", true, []string{"ev"}, nil, nil, eventStrategy{}},
		{core, "persistentvolumes", "PersistentVolume", false, []string{"pv"}, nil, []string{"status"}, pvStrategy{}},
		{core, "persistentvolumeclaims", "PersistentVolumeClaim", true, []string{"pvc"}, nil, []string{"status"}, pvcStrategy{}},
		{core, "replicationcontrollers", "ReplicationController", true, []string{"rc"}, all, []string{"status", "scale"}, rcStrategy{}},
		{core, "resourcequotas", "ResourceQuota", true, []string{"quota"}, nil, []string{"status"}, resourceQuotaStrategy{}},
		{core, "limitranges", "LimitRange", true, []string{"limits"}, nil, nil, limitRangeStrategy{}},
		{core, "podtemplates", "PodTemplate", true, nil, nil, nil, podTemplateStrategy{}},
		{apps, "deployments", "Deployment", true, []string{"deploy"}, all, []string{"status", "scale"}, deploymentStrategy{}},
		{apps, "replicasets", "ReplicaSet", true, []string{"rs"}, all, []string{"status", "scale"}, replicaSetStrategy{}},
		{apps, "statefulsets", "StatefulSet", true, []string{"sts"}, all, []string{"status", "scale"}, statefulSetStrategy{}},
		{apps, "daemonsets", "DaemonSet", true, []string{"ds"}, all, []string{"status"}, daemonSetStrategy{}},
		{apps, "controllerrevisions", "ControllerRevision", true, nil, nil, nil, controllerRevisionStrategy{}},
		{batch, "jobs", "Job", true, nil, all, []string{"status"}, jobStrategy{}},
		{batch, "cronjobs", "CronJob", true, []string{"cj"}, all, []string{"status"}, cronJobStrategy{}},
		{autoscaling, "horizontalpodautoscalers", "HorizontalPodAutoscaler", true, []string{"hpa"}, all, []string{"status"}, hpaStrategy{}},
		{policy, "poddisruptionbudgets", "PodDisruptionBudget", true, []string{"pdb"}, nil, []string{"status"}, pdbStrategy{}},
		{networking, "ingresses", "Ingress", true, []string{"ing"}, nil, []string{"status"}, ingressStrategy{}},
		{networking, "ingressclasses", "IngressClass", false, nil, nil, nil, ingressClassStrategy{}},
		{networking, "networkpolicies", "NetworkPolicy", true, []string{"netpol"}, nil, nil, networkPolicyStrategy{}},
		{rbac, "roles", "Role", true, nil, nil, nil, roleStrategy{}},
		{rbac, "clusterroles", "ClusterRole", false, nil, nil, nil, clusterRoleStrategy{}},
		{rbac, "rolebindings", "RoleBinding", true, nil, nil, nil, roleBindingStrategy{}},
		{rbac, "clusterrolebindings", "ClusterRoleBinding", false, nil, nil, nil, clusterRoleBindingStrategy{}},
		{storage, "storageclasses", "StorageClass", false, []string{"sc"}, nil, nil, storageClassStrategy{}},
		{scheduling, "priorityclasses", "PriorityClass", false, []string{"pc"}, nil, nil, priorityClassStrategy{}},
		{nodeAPI, "runtimeclasses", "RuntimeClass", false, nil, nil, nil, runtimeClassStrategy{}},
		{coordinate, "leases", "Lease", true, nil, nil, nil, leaseStrategy{}},
		{discovery, "endpointslices", "EndpointSlice", true, nil, nil, nil, endpointSliceStrategy{}},
		{certificate, "clustertrustbundles", "ClusterTrustBundle", false, nil, nil, nil, clusterTrustBundleStrategy{}},
		{certificate, "certificatesigningrequests", "CertificateSigningRequest", false, []string{"csr"}, nil, []string{"status", "approval"}, csrStrategy{}},
		{certificate, "podcertificaterequests", "PodCertificateRequest", true, nil, nil, []string{"status"}, podCertificateRequestStrategy{}},
		{apiextensionsGV, "customresourcedefinitions", "CustomResourceDefinition", false, []string{"crd", "crds"}, []string{"api-extensions"}, []string{"status"}, crdStrategy{}},
		{admission, "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", false, nil, nil, nil, mutatingWebhookStrategy{}},
		{admission, "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", false, nil, nil, nil, validatingWebhookStrategy{}},
		{admission, "validatingadmissionpolicies", "ValidatingAdmissionPolicy", false, nil, nil, []string{"status"}, policyStrategy{}},
		{admission, "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", false, nil, nil, nil, policyBindingStrategy{}},
		{admission, "mutatingadmissionpolicies", "MutatingAdmissionPolicy", false, nil, nil, nil, mutatingPolicyStrategy{}},
		{admission, "mutatingadmissionpolicybindings", "MutatingAdmissionPolicyBinding", false, nil, nil, nil, mutatingPolicyBindingStrategy{}},
		{aggregation, "apiservices", "APIService", false, nil, nil, []string{"status"}, apiServiceStrategy{}},
	}
	infos := make([]*Info, 0, len(rows)+10)
	for _, r := range rows {
		infos = append(infos, r.info())
	}
	infos = append(infos, inertKinds()...)
	for _, v := range []kind{
		{authz, "selfsubjectaccessreviews", "SelfSubjectAccessReview", false, nil, nil, nil, generic{}},
		{authz, "selfsubjectrulesreviews", "SelfSubjectRulesReview", false, nil, nil, nil, generic{}},
		{authz, "subjectaccessreviews", "SubjectAccessReview", false, nil, nil, nil, generic{}},
		{authz, "localsubjectaccessreviews", "LocalSubjectAccessReview", true, nil, nil, nil, generic{}},
		{authn, "tokenreviews", "TokenReview", false, nil, nil, nil, generic{}},
		{authn, "selfsubjectreviews", "SelfSubjectReview", false, nil, nil, nil, generic{}},
	} {
		info := v.info()
		info.Virtual = true
		infos = append(infos, info)
	}
	// Resource metrics, computed from the node agents' stats on each read.
	for _, v := range []kind{
		{metrics, "nodes", "NodeMetrics", false, nil, nil, nil, generic{}},
		{metrics, "pods", "PodMetrics", true, nil, nil, nil, generic{}},
	} {
		info := v.info()
		info.Virtual, info.ReadOnly = true, true
		infos = append(infos, info)
	}
	// Other versions of the same objects, stored as the preferred version.
	infos = append(infos,
		alias(infos, "events.k8s.io", "v1", "events", core, ""),
		alias(infos, "autoscaling", "v1", "horizontalpodautoscalers", autoscaling, ""),
		alias(infos, "autoscaling", "v2beta2", "horizontalpodautoscalers", autoscaling,
			"autoscaling/v2beta2 HorizontalPodAutoscaler is deprecated in v1.23+, unavailable in v1.26+; use autoscaling/v2 HorizontalPodAutoscaler"),
		alias(infos, "policy", "v1beta1", "poddisruptionbudgets", policy,
			"policy/v1beta1 PodDisruptionBudget is deprecated in v1.21+, unavailable in v1.25+; use policy/v1 PodDisruptionBudget"),
	)
	return infos
}

// alias serves the resource stored at storage under another group/version.
func alias(infos []*Info, group, version, resource string, storage schema.GroupVersion, deprecated string) *Info {
	for _, i := range infos {
		if i.Resource == resource && i.GroupVersion() == storage {
			a := *i
			a.GroupVersionResource = schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
			a.Deprecated = deprecated
			if group != storage.Group { // events.k8s.io events are not in "all" and have no short name there
				a.ShortNames = nil
			}
			return &a
		}
	}
	panic("alias of unknown resource " + resource)
}

func singular(kind string) string {
	out := make([]byte, 0, len(kind))
	for i := 0; i < len(kind); i++ {
		c := kind[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		out = append(out, c)
	}
	return string(out)
}
