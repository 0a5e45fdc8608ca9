package auth

import (
	"context"

	certificatesv1 "k8s.io/api/certificates/v1"
)

// ClusterInfoNamespace and ClusterInfoName locate the ConfigMap that tells a joining
// machine the cluster's CA (a kubeconfig without credentials, as kubeadm's).
const (
	ClusterInfoNamespace = "kube-public"
	ClusterInfoName      = "cluster-info"
)

// BootstrapAuthorizer is the whole grant of a join token (group
// system:bootstrappers): read the cluster-info ConfigMap, create certificate signing
// requests, and read (get, or list/watch by metadata.name) the ones it created. The
// approver decides what those requests get (internal/controllers/csrsigning).
type BootstrapAuthorizer struct {
	// Requester returns the spec.username of the named request, from the cache.
	Requester func(name string) (string, bool)
}

// Authorize implements Authorizer.
func (b BootstrapAuthorizer) Authorize(_ context.Context, a Attributes) (bool, string) {
	if a.User == nil || !a.User.InGroup(Bootstrappers) || !a.IsResource() || a.Subresource != "" {
		return false, ""
	}
	switch {
	case a.APIGroup == "" && a.Resource == "configmaps":
		return a.Verb == "get" && a.Namespace == ClusterInfoNamespace && a.Name == ClusterInfoName, ""
	case a.APIGroup != certificatesv1.GroupName || a.Resource != "certificatesigningrequests":
		return false, ""
	case a.Verb == "create":
		return true, ""
	case a.Verb == "get" || a.Verb == "list" || a.Verb == "watch":
		if a.Name == "" {
			return false, "a join token reads only the certificate signing requests it made, by name"
		}
		if owner, ok := b.Requester(a.Name); ok && owner == a.User.Name {
			return true, ""
		}
		return false, "a join token reads only the certificate signing requests it made"
	}
	return false, ""
}
