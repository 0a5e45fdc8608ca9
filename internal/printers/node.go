package printers

import (
	"sort"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Node labels that name a node's roles: node-role.kubernetes.io/<role> (any value)
// and the older kubernetes.io/role=<role>.
const (
	nodeRoleLabelPrefix = "node-role.kubernetes.io/"
	nodeRoleLabel       = "kubernetes.io/role"
)

// addNodes registers the cluster-level kinds: nodes, namespaces and the leases
// nodes and leaders heartbeat with.
func addNodes(m map[schema.GroupKind]*Printer) {
	infoDoc, statusDoc := corev1.NodeSystemInfo{}.SwaggerDoc(), corev1.NodeStatus{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Status", typeString, "Readiness of the node, and whether it is cordoned."),
		col("Roles", typeString, "Roles named by the node's role labels."),
		ageColumn(),
		col("Version", typeString, infoDoc["kubeletVersion"]),
		wide("Internal-IP", typeString, statusDoc["addresses"]),
		wide("External-IP", typeString, statusDoc["addresses"]),
		wide("OS-Image", typeString, infoDoc["osImage"]),
		wide("Kernel-Version", typeString, infoDoc["kernelVersion"]),
		wide("Container-Runtime", typeString, infoDoc["containerRuntimeVersion"]),
	}, nodeRow), "", "Node")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Status", typeString, "Phase of the namespace: Active or Terminating."),
		ageColumn(),
	}, func(ns *corev1.Namespace, now time.Time) []interface{} {
		return []interface{}{ns.Name, string(ns.Status.Phase), age(now, ns.CreationTimestamp)}
	}), "", "Namespace")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Holder", typeString, coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
		ageColumn(),
	}, func(l *coordinationv1.Lease, now time.Time) []interface{} {
		return []interface{}{l.Name, stringValue(l.Spec.HolderIdentity), age(now, l.CreationTimestamp)}
	}), "coordination.k8s.io", "Lease")
}

func nodeRow(n *corev1.Node, now time.Time) []interface{} {
	info := n.Status.NodeInfo
	return []interface{}{
		n.Name,
		nodeStatus(n),
		orElse(strings.Join(nodeRoles(n), ","), none),
		age(now, n.CreationTimestamp),
		info.KubeletVersion,
		nodeAddress(n, corev1.NodeInternalIP),
		nodeAddress(n, corev1.NodeExternalIP),
		orElse(info.OSImage, unknown),
		orElse(info.KernelVersion, unknown),
		orElse(info.ContainerRuntimeVersion, unknown),
	}
}

// nodeStatus is Ready, NotReady or Unknown (no Ready condition reported yet), with
// ",SchedulingDisabled" once the node is cordoned.
func nodeStatus(n *corev1.Node) string {
	status := "Unknown"
	// The last Ready condition wins should a node report several.
	for _, c := range n.Status.Conditions {
		if c.Type != corev1.NodeReady {
			continue
		}
		if c.Status == corev1.ConditionTrue {
			status = string(corev1.NodeReady)
		} else {
			status = "Not" + string(corev1.NodeReady)
		}
	}
	if n.Spec.Unschedulable {
		status += ",SchedulingDisabled"
	}
	return status
}

// nodeRoles are the distinct roles named by the node's labels, sorted.
func nodeRoles(n *corev1.Node) []string {
	seen := map[string]bool{}
	for k, v := range n.Labels {
		role := ""
		switch {
		case strings.HasPrefix(k, nodeRoleLabelPrefix):
			role = strings.TrimPrefix(k, nodeRoleLabelPrefix)
		case k == nodeRoleLabel:
			role = v
		}
		if role != "" {
			seen[role] = true
		}
	}
	roles := make([]string, 0, len(seen))
	for r := range seen {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

// nodeAddress is the node's first address of type t.
func nodeAddress(n *corev1.Node, t corev1.NodeAddressType) string {
	for _, a := range n.Status.Addresses {
		if a.Type == t {
			return a.Address
		}
	}
	return none
}
