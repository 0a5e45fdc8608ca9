package netpol

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/knftables"

	"skiff/internal/nfttable"
)

// Names of the fixed objects in the table.
const (
	chainIngress = "ingress"
	chainEgress  = "egress"

	setIngressIsolated = "ingress-isolated"
	setEgressIsolated  = "egress-isolated"
)

// Base chains filter after the proxy's DNAT (prerouting, priority -100), so traffic
// to a Service is judged by the pod it was sent to. Egress runs first; its accept
// ends only its own base chain, so the ingress chain still judges the same packet.
const (
	priorityEgress  = 0
	priorityIngress = 1
)

// Set types.
const (
	typeAddr     = "ipv4_addr"
	typeAddrPort = "ipv4_addr . inet_proto . inet_service"
)

// Build computes the table for st. It is a pure function: the same state always
// gives the same Ruleset.
//
// Which chains and rules exist depends on the policies alone; pods only fill sets
// keyed by their address. So a new pod or a changed label costs set elements, and
// a changed policy rewrites that policy's chain (and the dispatch chain when
// policies come or go).
//
// Layout: a packet from a pod some policy isolates for egress goes through the
// egress chain, which jumps to the chain of each egress policy selecting the
// source; a policy rule that allows it accepts, and what no rule allows is
// dropped at the end. Ingress works the same on the destination. Replies of
// allowed connections are accepted before either.
func Build(st State) *nfttable.Ruleset {
	m := newModel(st)
	r := nfttable.New()
	addSkeleton(r)
	policies := slices.Clone(st.Policies)
	slices.SortFunc(policies, func(a, b *networkingv1.NetworkPolicy) int {
		return strings.Compare(a.Namespace+"/"+a.Name, b.Namespace+"/"+b.Name)
	})
	for _, np := range policies {
		addPolicy(r, m, np)
	}
	r.AddRule(chainIngress, "drop")
	r.AddRule(chainEgress, "drop")
	return r
}

func addSkeleton(r *nfttable.Ruleset) {
	base := func(name string, hook knftables.BaseChainHook, prio int, rules ...string) {
		r.Chains[name] = &nfttable.Chain{Hook: hook, Type: knftables.FilterType, Priority: prio, Rules: rules}
	}
	replies := "ct state established,related accept"
	egress := "ip saddr @" + setEgressIsolated + " jump " + chainEgress
	// forward sees pod traffic between bridges and nodes and, through br_netfilter,
	// between pods on one bridge; input sees pods reaching their node (the DNS).
	base("egress-forward", knftables.ForwardHook, priorityEgress, replies, egress)
	base("egress-input", knftables.InputHook, priorityEgress, replies, egress)
	base("ingress-forward", knftables.ForwardHook, priorityIngress, replies,
		"ip daddr @"+setIngressIsolated+" jump "+chainIngress)
	// Traffic from the node itself (probes) passes output, never these hooks: a
	// pod cannot refuse its own node, as in Kubernetes.
	r.AddChain(chainIngress)
	r.AddChain(chainEgress)
	for _, s := range []string{setIngressIsolated, setEgressIsolated} {
		r.Sets[s] = newSet(typeAddr)
	}
}

func newSet(typ string, flags ...knftables.SetFlag) *nfttable.Set {
	return &nfttable.Set{Type: typ, Flags: flags, Elements: map[string]string{}}
}

// policyID names a policy's chains and sets: readable in `nft list table`, and
// hashed when too long for nftables' 256-byte names.
func policyID(np *networkingv1.NetworkPolicy) string {
	id := np.Namespace + "/" + np.Name
	if len(id) > 160 {
		h := sha256.Sum256([]byte(id))
		id = id[:140] + "~" + hex.EncodeToString(h[:6])
	}
	return id
}

func addPolicy(r *nfttable.Ruleset, m *model, np *networkingv1.NetworkPolicy) {
	ingress, egress := policyTypes(np)
	if !ingress && !egress {
		return
	}
	id := policyID(np)
	targets := "pods-" + id
	r.Sets[targets] = newSet(typeAddr)
	tgts := m.targets(np)
	for _, t := range tgts {
		r.AddElement(targets, t.ip, "")
	}
	if ingress {
		chain := "in-" + id
		r.AddChain(chain)
		r.AddRule(chainIngress, "ip daddr @"+targets, "jump", chain)
		for _, t := range tgts {
			r.AddElement(setIngressIsolated, t.ip, "")
		}
		for i, rule := range np.Spec.Ingress {
			addIngressRule(r, m, np, tgts, fmt.Sprintf("%s/%d", chain, i), chain, rule)
		}
	}
	if egress {
		chain := "eg-" + id
		r.AddChain(chain)
		r.AddRule(chainEgress, "ip saddr @"+targets, "jump", chain)
		for _, t := range tgts {
			r.AddElement(setEgressIsolated, t.ip, "")
		}
		for i, rule := range np.Spec.Egress {
			addEgressRule(r, m, np, fmt.Sprintf("%s/%d", chain, i), chain, rule)
		}
	}
}

// peerMatches are the rule fragments that match a rule's peers on the given side
// ("saddr" for ingress, "daddr" for egress), filling the sets they use: the pods
// the selectors pick, and the ipBlocks. No peers: one empty fragment (anyone).
func peerMatches(r *nfttable.Ruleset, m *model, ns, prefix, side string, peers []networkingv1.NetworkPolicyPeer) []string {
	if len(peers) == 0 {
		return []string{""}
	}
	var out []string
	if slices.ContainsFunc(peers, func(p networkingv1.NetworkPolicyPeer) bool { return p.IPBlock == nil }) {
		set := prefix + "/peers"
		r.Sets[set] = newSet(typeAddr)
		sels := selectorPeers(ns, peers)
		for _, mem := range m.members {
			if !mem.virtual && m.selects(sels, mem) {
				r.AddElement(set, mem.ip, "")
			}
		}
		out = append(out, "ip "+side+" @"+set)
	}
	if slices.ContainsFunc(peers, func(p networkingv1.NetworkPolicyPeer) bool { return p.IPBlock != nil }) {
		set := prefix + "/blocks"
		r.Sets[set] = newSet(typeAddr, knftables.IntervalFlag)
		for _, rg := range blockRanges(peers) {
			r.AddElement(set, rg.element(), "")
		}
		out = append(out, "ip "+side+" @"+set)
	}
	return out
}

// portMatches are the rule fragments for a rule's ports given by number (or not
// at all), one per protocol; named ports are resolved per pod by the caller. No
// ports: one empty fragment (every port and protocol). Only named ports: none.
func portMatches(ports []networkingv1.NetworkPolicyPort) []string {
	if len(ports) == 0 {
		return []string{""}
	}
	byProto := map[corev1.Protocol][]string{}
	any := map[corev1.Protocol]bool{}
	var order []corev1.Protocol
	for _, p := range ports {
		if p.Port != nil && p.Port.Type == intstr.String {
			continue
		}
		proto := protocolOf(ptrOr(p.Protocol, ""))
		if !slices.Contains(order, proto) {
			order = append(order, proto)
		}
		if p.Port == nil {
			any[proto] = true
			continue
		}
		val := fmt.Sprint(p.Port.IntVal)
		if p.EndPort != nil && *p.EndPort > p.Port.IntVal {
			val += fmt.Sprintf("-%d", *p.EndPort)
		}
		if !slices.Contains(byProto[proto], val) {
			byProto[proto] = append(byProto[proto], val)
		}
	}
	var out []string
	for _, proto := range order {
		frag := "meta l4proto " + protoName(proto)
		if !any[proto] {
			frag += " th dport { " + strings.Join(byProto[proto], ", ") + " }"
		}
		out = append(out, frag)
	}
	return out
}

func hasNamedPort(ports []networkingv1.NetworkPolicyPort) bool {
	return slices.ContainsFunc(ports, func(p networkingv1.NetworkPolicyPort) bool {
		return p.Port != nil && p.Port.Type == intstr.String
	})
}

// addIngressRule allows traffic from the rule's peers to the policy's targets on
// the rule's ports. Named ports are looked up in each target pod, so they become
// a set of target address, protocol and port.
func addIngressRule(r *nfttable.Ruleset, m *model, np *networkingv1.NetworkPolicy, targets []*member, prefix, chain string, rule networkingv1.NetworkPolicyIngressRule) {
	peers := peerMatches(r, m, np.Namespace, prefix, "saddr", rule.From)
	for _, peer := range peers {
		for _, ports := range portMatches(rule.Ports) {
			r.AddRule(chain, words(peer, ports, "accept"))
		}
	}
	if !hasNamedPort(rule.Ports) {
		return
	}
	set := prefix + "/named"
	r.Sets[set] = newSet(typeAddrPort)
	for _, t := range targets {
		for _, pp := range rule.Ports {
			if pp.Port != nil && pp.Port.Type == intstr.String {
				addPorts(r, set, t, t.resolve(pp))
			}
		}
	}
	for _, peer := range peers {
		r.AddRule(chain, words("ip daddr . meta l4proto . th dport @"+set, peer, "accept"))
	}
}

// addEgressRule allows traffic from the policy's targets to the rule's peers on
// the rule's ports. Ports looked up in the destination (named ports, and every
// port of the cluster DNS, whose wire port may differ from the policy's) go in a
// set of destination address, protocol and port, filled from the members the
// rule's peers cover.
func addEgressRule(r *nfttable.Ruleset, m *model, np *networkingv1.NetworkPolicy, prefix, chain string, rule networkingv1.NetworkPolicyEgressRule) {
	for _, peer := range peerMatches(r, m, np.Namespace, prefix, "daddr", rule.To) {
		for _, ports := range portMatches(rule.Ports) {
			r.AddRule(chain, words(peer, ports, "accept"))
		}
	}
	set := prefix + "/dest"
	r.Sets[set] = newSet(typeAddrPort)
	r.AddRule(chain, "ip daddr . meta l4proto . th dport @"+set+" accept")
	named := hasNamedPort(rule.Ports)
	for _, mem := range m.egressScope(np.Namespace, rule.To) {
		if !mem.virtual && !named {
			continue
		}
		specs := rule.Ports
		if len(specs) == 0 {
			specs = everyProtocol
		}
		for _, pp := range specs {
			if mem.virtual || (pp.Port != nil && pp.Port.Type == intstr.String) {
				addPorts(r, set, mem, mem.resolve(pp))
			}
		}
	}
}

// everyProtocol stands for a rule without ports when ports are looked up.
var everyProtocol = []networkingv1.NetworkPolicyPort{
	{Protocol: ptrTo(corev1.ProtocolTCP)}, {Protocol: ptrTo(corev1.ProtocolUDP)}, {Protocol: ptrTo(corev1.ProtocolSCTP)},
}

func ptrTo[T any](v T) *T { return &v }

// egressScope are the members an egress rule's peers cover: those its selectors
// pick and those inside its ipBlocks; every member when it has no peers.
func (m *model) egressScope(ns string, peers []networkingv1.NetworkPolicyPeer) []*member {
	if len(peers) == 0 {
		return m.members
	}
	blocks, sels := blockRanges(peers), selectorPeers(ns, peers)
	var out []*member
	for _, mem := range m.members {
		if m.selects(sels, mem) || inRanges(blocks, mem.ip) {
			out = append(out, mem)
		}
	}
	return out
}

func inRanges(rs []addrRange, ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(rs, func(r addrRange) bool { return r.contains(a) })
}

func addPorts(r *nfttable.Ruleset, set string, mem *member, ports []wirePort) {
	for _, p := range ports {
		r.AddElement(set, fmt.Sprintf("%s . %s . %d", mem.ip, protoName(p.proto), p.port), "")
	}
}

// words joins the non-empty fragments of a rule with spaces.
func words(frags ...string) string {
	return strings.Join(slices.DeleteFunc(frags, func(s string) bool { return s == "" }), " ")
}
