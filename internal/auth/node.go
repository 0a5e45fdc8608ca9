package auth

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// NodeUserPrefix starts the user name of a node's client certificate.
const NodeUserPrefix = "system:node:"

// NodeName returns the node a user is, when it is one: system:node:NAME in the
// system:nodes group.
func NodeName(u *User) (string, bool) {
	if u == nil || !u.InGroup(Nodes) {
		return "", false
	}
	name, ok := strings.CutPrefix(u.Name, NodeUserPrefix)
	return name, ok && name != ""
}

// NodeAuthorizer decides the requests of node identities, as Kubernetes' Node
// authorizer does: Secrets, ConfigMaps, PersistentVolumeClaims, PersistentVolumes and
// service-account tokens only when a pod bound to the node uses them; everything
// else by the fixed NodeRules. NodeRestriction admission then limits which objects
// the allowed writes may touch (its own Node, Lease and pods).
type NodeAuthorizer struct {
	Pods *PodIndex
	// Claim reads a PersistentVolumeClaim (to follow claim -> volume).
	Claim func(namespace, name string) (*corev1.PersistentVolumeClaim, bool)
	// Pinned says whether the PersistentVolume is one the node provisioned for
	// itself (a local or node-local CSI volume), whose claims' expansion it records.
	Pinned func(volume, node string) bool
}

// TLSSecretType is the field selector under which nodes may list and watch Secrets:
// the ingress controller every node runs serves their certificates.
const TLSSecretType = "type=" + string(corev1.SecretTypeTLS)

// Authorize implements Authorizer; it has no opinion on users who are not nodes.
func (n NodeAuthorizer) Authorize(_ context.Context, a Attributes) (bool, string) {
	node, ok := NodeName(a.User)
	if !ok || !a.IsResource() {
		return false, ""
	}
	if a.APIGroup == "" {
		switch {
		case a.Resource == "secrets" && a.Subresource == "":
			if isListOrWatch(a.Verb) && a.Name == "" && tlsSecretsOnly(a.FieldSelector) {
				return true, ""
			}
			return n.graph(node, a, podSecrets)
		case a.Resource == "configmaps" && a.Subresource == "":
			return n.graph(node, a, podConfigMaps)
		case (a.Resource == "persistentvolumeclaims" || a.Resource == "persistentvolumes") && isListOrWatch(a.Verb) && a.Name == "":
			// The local-path provisioner in every node agent follows all claims and
			// volumes (their specs hold no secrets); reading one by name follows the graph.
			return true, ""
		case a.Resource == "persistentvolumeclaims" && a.Subresource == "":
			return n.graph(node, a, podClaims)
		case a.Resource == "persistentvolumeclaims" && a.Subresource == "status" && (a.Verb == "update" || a.Verb == "patch"):
			// Expansion: the claims of its pods (the kubelet's NodeExpandVolume) and of its
			// own volumes (the resizer); NodeRestriction limits the fields.
			if pvc, ok := n.Claim(a.Namespace, a.Name); ok && n.Pinned != nil && n.Pinned(pvc.Spec.VolumeName, node) {
				return true, ""
			}
			return n.graph(node, a, podClaims)
		case a.Resource == "persistentvolumes" && a.Subresource == "" && (a.Verb == "create" || a.Verb == "delete" || a.Verb == "update" || a.Verb == "patch"):
			// The provisioner's own local volumes (made, deleted, grown): NodeRestriction
			// checks they are on this node.
			return true, ""
		case a.Resource == "persistentvolumes" && a.Subresource == "":
			return n.graph(node, a, n.podVolume(a.Name))
		case a.Resource == "serviceaccounts" && a.Subresource == "token":
			if a.Verb != "create" {
				return false, "can only create tokens for individual service accounts"
			}
			return n.graph(node, a, func(p *podRefs, sa string) bool {
				return p.namespace == a.Namespace && p.serviceAccount == sa
			})
		case a.Resource == "serviceaccounts" && a.Subresource == "" && a.Verb == "get":
			// The kubelet names a pod's service account by UID in its PodCertificateRequests.
			return n.graph(node, a, func(p *podRefs, sa string) bool {
				return p.namespace == a.Namespace && p.serviceAccount == sa
			})
		case a.Resource == "pods" && (a.Subresource == "status" || a.Subresource == "eviction"):
			if !n.Pods.PodOn(node, a.Namespace, a.Name) {
				return false, noRelationship(node)
			}
		}
	}
	if a.APIGroup == "certificates.k8s.io" && a.Resource == "podcertificaterequests" && a.Subresource == "" &&
		isListOrWatch(a.Verb) && a.Name == "" && podCertsOfNode(node, a.FieldSelector) {
		return true, ""
	}
	for _, r := range NodeRules {
		if RuleAllows(r, a) {
			return true, ""
		}
	}
	return nodeServicesWrite(node, a), ""
}

// The objects the cluster DNS and ingress controller on every node maintain. Creates
// carry no name in the URL: NodeRestriction admission checks it.
const (
	DNSService       = "kube-dns"
	DNSNamespace     = "kube-system"
	IngressClassName = "skiff"
)

// DNSSliceName is the EndpointSlice in kube-system through which a node publishes its
// cluster DNS server; a node writes only its own.
func DNSSliceName(node string) string { return "kube-dns-" + node }

// nodeServicesWrite allows the writes of the node's DNS server (the kube-dns Service
// and the node's own EndpointSlice of it) and ingress controller (its IngressClass).
func nodeServicesWrite(node string, a Attributes) bool {
	write := a.Verb == "create" || a.Verb == "update" || a.Verb == "patch" || a.Verb == "delete"
	switch {
	case !write || a.Subresource != "":
		return false
	case a.APIGroup == "discovery.k8s.io" && a.Resource == "endpointslices":
		return a.Namespace == DNSNamespace && (a.Verb == "create" || a.Name == DNSSliceName(node))
	case a.APIGroup == "" && a.Resource == "services":
		return a.Namespace == DNSNamespace && (a.Verb == "create" || (a.Name == DNSService && a.Verb != "delete"))
	case a.APIGroup == "networking.k8s.io" && a.Resource == "ingressclasses":
		return a.Verb == "create"
	}
	return false
}

// graph allows reading one named object that a pod on the node uses (get, or a
// list/watch narrowed to it by metadata.name, as the kubelet's watches are).
func (n NodeAuthorizer) graph(node string, a Attributes, uses func(*podRefs, string) bool) (bool, string) {
	if a.Subresource == "" && a.Verb != "get" && !isListOrWatch(a.Verb) {
		return false, fmt.Sprintf("can only read resources of this type, not %s them", a.Verb)
	}
	if a.Name == "" {
		return false, "can only read individual resources of this type"
	}
	ns := a.Namespace
	if n.Pods.anyPodOn(node, func(p *podRefs) bool { return (ns == "" || p.namespace == ns) && uses(p, a.Name) }) {
		return true, ""
	}
	return false, noRelationship(node)
}

// podVolume follows pod -> claim -> volume for the PersistentVolume name.
func (n NodeAuthorizer) podVolume(volume string) func(*podRefs, string) bool {
	return func(p *podRefs, _ string) bool {
		for _, c := range p.claims {
			if pvc, ok := n.Claim(p.namespace, c); ok && pvc.Spec.VolumeName == volume {
				return true
			}
		}
		return false
	}
}

func noRelationship(node string) string {
	return fmt.Sprintf("no relationship found between node '%s' and this object", node)
}

func isListOrWatch(verb string) bool { return verb == "list" || verb == "watch" }

// podCertsOfNode: a node lists and watches the PodCertificateRequests of its own pods
// (field selector spec.nodeName=NODE) and no others.
func podCertsOfNode(node, selector string) bool {
	s, err := fields.ParseSelector(selector)
	if err != nil {
		return false
	}
	v, ok := s.RequiresExactMatch("spec.nodeName")
	return ok && v == node
}

func tlsSecretsOnly(selector string) bool {
	s, err := fields.ParseSelector(selector)
	if err != nil {
		return false
	}
	v, ok := s.RequiresExactMatch("type")
	return ok && v == string(corev1.SecretTypeTLS)
}

func nodeRule(verbs []string, group string, resources ...string) rbacv1.PolicyRule {
	return rbacv1.PolicyRule{Verbs: verbs, APIGroups: []string{group}, Resources: resources}
}

var nodeRead = []string{"get", "list", "watch"}

// NodeRules are what every node may do besides reading its pods' objects: the rules
// of Kubernetes' system:node role, plus reading what the service proxy, cluster DNS,
// ingress controller and network-policy rules that skiff runs on every node need. The API server also
// publishes them as the ClusterRole system:node.
var NodeRules = []rbacv1.PolicyRule{
	nodeRule([]string{"create"}, "authentication.k8s.io", "tokenreviews"),
	nodeRule([]string{"create"}, "authorization.k8s.io", "subjectaccessreviews", "localsubjectaccessreviews"),
	nodeRule(nodeRead, "", "services", "endpoints", "nodes", "pods"),
	nodeRule([]string{"create", "update", "patch", "delete"}, "", "nodes"),
	nodeRule([]string{"update", "patch"}, "", "nodes/status"),
	nodeRule([]string{"create", "update", "patch"}, "", "events"),
	nodeRule([]string{"create", "update", "patch"}, "events.k8s.io", "events"),
	nodeRule([]string{"create", "delete"}, "", "pods"),
	nodeRule([]string{"update", "patch"}, "", "pods/status"),
	nodeRule([]string{"create"}, "", "pods/eviction"),
	nodeRule([]string{"get", "list", "watch", "create", "update", "patch", "delete"}, "coordination.k8s.io", "leases"),
	nodeRule(nodeRead, "discovery.k8s.io", "endpointslices"),
	nodeRule(nodeRead, "networking.k8s.io", "ingresses", "ingressclasses", "networkpolicies"),
	nodeRule(nodeRead, "", "namespaces"), // network policies select namespaces by label
	nodeRule([]string{"update", "patch"}, "networking.k8s.io", "ingresses/status"),
	nodeRule(nodeRead, "node.k8s.io", "runtimeclasses"),
	nodeRule(nodeRead, "storage.k8s.io", "csidrivers", "storageclasses", "csinodes", "volumeattachments", "volumeattributesclasses"),
	// The agent's CSI side: its own CSINode, and the attachments to itself that its
	// attacher works (NodeRestriction checks both).
	nodeRule([]string{"create", "update", "patch"}, "storage.k8s.io", "csinodes", "volumeattachments", "volumeattachments/status"),
	// The agent's snapshotter: the contents it makes for the snapshots of its
	// drivers' volumes, the snapshots' finalizers and status.
	nodeRule(nodeRead, "snapshot.storage.k8s.io", "volumesnapshots", "volumesnapshotcontents", "volumesnapshotclasses"),
	nodeRule([]string{"create", "update", "patch", "delete"}, "snapshot.storage.k8s.io", "volumesnapshotcontents", "volumesnapshotcontents/status"),
	nodeRule([]string{"update", "patch"}, "snapshot.storage.k8s.io", "volumesnapshots", "volumesnapshots/status"),
	nodeRule([]string{"create", "get", "list", "watch"}, "certificates.k8s.io", "certificatesigningrequests"),
	nodeRule(nodeRead, "certificates.k8s.io", "clustertrustbundles"), // projected into pods
	// podCertificate volumes: the kubelet asks for its pods' certificates (NodeRestriction
	// checks spec.nodeName) and watches its own requests (see podCertsOfNode).
	nodeRule([]string{"create"}, "certificates.k8s.io", "podcertificaterequests"),
}
