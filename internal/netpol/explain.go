package netpol

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Explain says whether the policies in st let pod from open a connection to pod
// to on proto/port, one line per direction, naming the policies that decide. It
// judges the policies as the rules enforce them, without a kernel: `skiff why`.
func Explain(st State, from, to *corev1.Pod, proto corev1.Protocol, port int32) (allowed bool, lines []string) {
	m := newModel(st)
	src, dst := podMember(from), podMember(to)
	if src == nil || dst == nil {
		return false, []string{"one of the pods has no address (not running, finished or hostNetwork); policies cannot judge it"}
	}
	want := wirePort{protocolOf(proto), port}
	egressOK, egressLine := judge(m, st.Policies, src, dst, want, networkingv1.PolicyTypeEgress)
	ingressOK, ingressLine := judge(m, st.Policies, dst, src, want, networkingv1.PolicyTypeIngress)
	return egressOK && ingressOK, []string{egressLine, ingressLine}
}

// judge decides one direction for target (the source for egress, the
// destination for ingress) and its peer.
func judge(m *model, policies []*networkingv1.NetworkPolicy, target, peer *member, want wirePort, dir networkingv1.PolicyType) (bool, string) {
	name := "egress of " + target.namespace + "/" + target.name
	if dir == networkingv1.PolicyTypeIngress {
		name = "ingress to " + target.namespace + "/" + target.name
	}
	dest := peer
	if dir == networkingv1.PolicyTypeIngress {
		dest = target
	}
	var isolating []string
	for _, np := range policies {
		ingress, egress := policyTypes(np)
		if np.Namespace != target.namespace || !selector(&np.Spec.PodSelector).Matches(target.labels) ||
			(dir == networkingv1.PolicyTypeIngress && !ingress) || (dir == networkingv1.PolicyTypeEgress && !egress) {
			continue
		}
		isolating = append(isolating, np.Name)
		for i, r := range rulesOf(np, dir) {
			if peerAllowed(m, np.Namespace, r.peers, peer) && portAllowed(r.ports, dest, want) {
				return true, fmt.Sprintf("%s: allowed by NetworkPolicy %s/%s (%s rule %d)", name, np.Namespace, np.Name, strings.ToLower(string(dir)), i)
			}
		}
	}
	if len(isolating) == 0 {
		return true, name + ": allowed (no NetworkPolicy selects the pod for " + strings.ToLower(string(dir)) + ")"
	}
	return false, fmt.Sprintf("%s: DROPPED: NetworkPolicies %s select the pod for %s and none of their rules allows %s/%d with %s/%s",
		name, strings.Join(isolating, ", "), strings.ToLower(string(dir)), want.proto, want.port, peer.namespace, peer.name)
}

type policyRule struct {
	peers []networkingv1.NetworkPolicyPeer
	ports []networkingv1.NetworkPolicyPort
}

func rulesOf(np *networkingv1.NetworkPolicy, dir networkingv1.PolicyType) []policyRule {
	var out []policyRule
	if dir == networkingv1.PolicyTypeIngress {
		for _, r := range np.Spec.Ingress {
			out = append(out, policyRule{r.From, r.Ports})
		}
		return out
	}
	for _, r := range np.Spec.Egress {
		out = append(out, policyRule{r.To, r.Ports})
	}
	return out
}

func peerAllowed(m *model, ns string, peers []networkingv1.NetworkPolicyPeer, mem *member) bool {
	return len(peers) == 0 || m.selects(selectorPeers(ns, peers), mem) || inRanges(blockRanges(peers), mem.ip)
}

// portAllowed matches numbers and ranges as written, and names in the
// destination pod's ports.
func portAllowed(ports []networkingv1.NetworkPolicyPort, dest *member, want wirePort) bool {
	if len(ports) == 0 {
		return true
	}
	for _, pp := range ports {
		if protocolOf(ptrOr(pp.Protocol, "")) != want.proto {
			continue
		}
		switch {
		case pp.Port == nil:
			return true
		case pp.Port.Type == intstr.String:
			if slices.Contains(dest.resolve(pp), want) {
				return true
			}
		case want.port >= pp.Port.IntVal && want.port <= max(ptrOr(pp.EndPort, 0), pp.Port.IntVal):
			return true
		}
	}
	return false
}
