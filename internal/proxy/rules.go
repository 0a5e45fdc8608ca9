package proxy

import (
	"fmt"
	"strings"

	"sigs.k8s.io/knftables"

	"skiff/internal/nfttable"
)

// Names of the fixed objects in the table.
const (
	chainServices     = "services"
	chainEndpointsChk = "endpoints-check"
	chainMarkMasq     = "mark-for-masquerade"
	chainMasquerade   = "masquerading"
	chainReject       = "reject-chain"
	chainFirewall     = "localhost-guard"
	chainClusterIPChk = "cluster-ips-check"

	mapServiceIPs        = "service-ips"
	mapServiceNodePorts  = "service-nodeports"
	mapNoEndpointIPs     = "no-endpoint-services"
	mapNoEndpointPorts   = "no-endpoint-nodeports"
	setNodePortAddresses = "nodeport-ips"
	setClusterIPs        = "cluster-ips"

	// masqMark is the packet-mark bit that asks the postrouting chain to masquerade.
	// The same bit kube-proxy uses, so tools that know it keep working.
	masqMark = "0x4000"
)

// Base chain priorities. DNAT runs at -100 (nft's "dstnat"); the filter chains that
// refuse connections to services without endpoints run just before it, on the
// original destination.
const (
	priorityDNAT     = -100
	priorityFilter   = -110
	priorityPostDNAT = -90
	prioritySNAT     = 100
)

// Verdicts for services that have no endpoint to send a connection to.
const (
	verdictReject = "goto " + chainReject
	verdictDrop   = "drop"
)

// Flow is a UDP path through the proxy: packets to Port on Dest (every node
// address when Dest is empty, a NodePort) are sent to Endpoint. When one disappears,
// its conntrack entries must go, or the client keeps talking to a dead pod.
type Flow struct {
	Dest     string
	Port     int32
	Endpoint string
}

// Build computes the table for st. It is a pure function: the same state always
// gives the same Ruleset (and UDP flows), which the caller then applies.
func Build(st State) (*nfttable.Ruleset, map[Flow]bool) {
	r := nfttable.New()
	addSkeleton(r, st)
	flows := map[Flow]bool{}
	for _, sp := range servicePorts(st) {
		for _, ip := range sp.clusterIPs {
			r.AddElement(setClusterIPs, ip, "")
		}
		addServicePort(r, st, sp)
		if sp.proto == "udp" {
			addFlows(flows, sp)
		}
	}
	return r, flows
}

// addSkeleton adds the base chains, the dispatch maps and the helper chains every
// table has, whatever the services.
func addSkeleton(r *nfttable.Ruleset, st State) {
	nat := func(hook knftables.BaseChainHook, prio int, rule string) {
		r.Chains["nat-"+string(hook)] = &nfttable.Chain{Hook: hook, Type: knftables.NATType, Priority: prio, Rules: []string{rule}}
	}
	filter := func(hook knftables.BaseChainHook, rules ...string) {
		r.Chains["filter-"+string(hook)] = &nfttable.Chain{Hook: hook, Type: knftables.FilterType, Priority: priorityFilter, Rules: rules}
	}
	// prerouting sees traffic from pods and other hosts, output the node's own.
	nat(knftables.PreroutingHook, priorityDNAT, "jump "+chainServices)
	nat(knftables.OutputHook, priorityDNAT, "jump "+chainServices)
	nat(knftables.PostroutingHook, prioritySNAT, "jump "+chainMasquerade)
	check := "ct state new jump " + chainEndpointsChk
	clusterIPCheck := "ct state new jump " + chainClusterIPChk
	filter(knftables.InputHook, check, "jump "+chainFirewall)
	// forward runs after prerouting's DNAT: a connection still addressed to a
	// ClusterIP matched no service port.
	filter(knftables.ForwardHook, check, clusterIPCheck)
	filter(knftables.OutputHook, check)
	// The node's own connections are DNATed in output, so they are checked after it.
	r.Chains["filter-output-post-dnat"] = &nfttable.Chain{Hook: knftables.OutputHook, Type: knftables.FilterType,
		Priority: priorityPostDNAT, Rules: []string{clusterIPCheck}}

	dispatch := func(name, keyType string) {
		r.Sets[name] = &nfttable.Set{Map: true, Type: keyType + " : verdict", Elements: map[string]string{}}
	}
	dispatch(mapServiceIPs, "ipv4_addr . inet_proto . inet_service")
	dispatch(mapServiceNodePorts, "inet_proto . inet_service")
	dispatch(mapNoEndpointIPs, "ipv4_addr . inet_proto . inet_service")
	dispatch(mapNoEndpointPorts, "inet_proto . inet_service")

	nodePortMatch := "fib daddr type local"
	if len(st.NodePortCIDRs) > 0 {
		r.Sets[setNodePortAddresses] = &nfttable.Set{Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.IntervalFlag}, Elements: map[string]string{}}
		for _, c := range st.NodePortCIDRs {
			r.AddElement(setNodePortAddresses, c, "")
		}
		nodePortMatch = "ip daddr @" + setNodePortAddresses
	}
	r.AddChain(chainServices,
		"ip daddr . meta l4proto . th dport vmap @"+mapServiceIPs,
		nodePortMatch+" meta l4proto . th dport vmap @"+mapServiceNodePorts)
	r.AddChain(chainEndpointsChk,
		"ip daddr . meta l4proto . th dport vmap @"+mapNoEndpointIPs,
		nodePortMatch+" meta l4proto . th dport vmap @"+mapNoEndpointPorts)
	// TCP gets a reset, everything else ICMP port unreachable: both make a client
	// fail at once with "connection refused".
	r.AddChain(chainReject, "meta l4proto tcp reject with tcp reset", "reject")
	// A ClusterIP answers only on its service's ports: anything else is refused
	// here, or it would be routed out of the node towards the default gateway.
	r.Sets[setClusterIPs] = &nfttable.Set{Type: "ipv4_addr", Elements: map[string]string{}}
	r.AddChain(chainClusterIPChk, "ip daddr @"+setClusterIPs+" "+verdictReject)
	r.AddChain(chainMarkMasq, "meta mark set meta mark | "+masqMark)
	r.AddChain(chainMasquerade,
		"meta mark & "+masqMark+" == 0 return",
		"meta mark set meta mark ^ "+masqMark,
		"masquerade fully-random")
	// route_localnet (needed to DNAT 127.0.0.1) would also let other hosts reach
	// the node's loopback services; only connections we DNATed may arrive that way.
	r.AddChain(chainFirewall, `iifname != "lo" ip daddr 127.0.0.0/8 ct state new ct status & dnat == 0 drop`)
}

// Per-service-port chain names. The id is readable in `nft list table`.
func svcChain(sp *servicePort) string   { return "svc-" + sp.id }
func extChain(sp *servicePort) string   { return "ext-" + sp.id }
func localChain(sp *servicePort) string { return "local-" + sp.id }
func epChain(sp *servicePort, e endpoint) string {
	return "ep-" + sp.id + "/" + e.String()
}

// affinitySet includes the timeout so that a changed timeout makes a new set
// rather than needing a set redefinition.
func affinitySet(sp *servicePort, e endpoint) string {
	return fmt.Sprintf("aff-%s/%s/%d", sp.id, e, int64(sp.affinity.Seconds()))
}

func addServicePort(r *nfttable.Ruleset, st State, sp *servicePort) {
	if len(sp.endpoints) == 0 {
		// Nothing anywhere: refuse at once rather than let the client time out.
		addFrontends(r, sp, verdictReject, verdictReject, mapNoEndpointIPs, mapNoEndpointPorts)
		return
	}
	for _, e := range sp.endpoints {
		addEndpoint(r, sp, e)
	}
	// The cluster chain balances over every endpoint.
	r.AddChain(svcChain(sp))
	if len(st.ClusterCIDRs) > 0 {
		r.AddRule(svcChain(sp), "ip saddr !=", cidrSet(st.ClusterCIDRs), "jump", chainMarkMasq)
	}
	addBalancing(r, svcChain(sp), sp, sp.endpoints)
	// The local chain balances over this node's endpoints, for the traffic policies.
	local := localOnly(sp.endpoints)
	localVerdict := verdictDrop
	if (sp.intLocal || sp.extLocal) && len(local) > 0 {
		r.AddChain(localChain(sp))
		addBalancing(r, localChain(sp), sp, local)
		localVerdict = "goto " + localChain(sp)
	}
	clusterVerdict := "goto " + svcChain(sp)
	if sp.intLocal {
		clusterVerdict = localVerdict
	}
	for _, ip := range sp.clusterIPs {
		m := mapServiceIPs
		if clusterVerdict == verdictDrop {
			m = mapNoEndpointIPs
		}
		r.AddElement(m, frontendKey(ip, sp.proto, sp.port), clusterVerdict)
	}
	if sp.hasExternal() {
		addExternal(r, st, sp, localVerdict)
		addFrontends(r, sp, "", "goto "+extChain(sp), mapServiceIPs, mapServiceNodePorts)
	}
}

// addFrontends maps the service port's addresses to verdicts: the ClusterIPs (when
// clusterVerdict is set), the external IPs and the NodePort.
func addFrontends(r *nfttable.Ruleset, sp *servicePort, clusterVerdict, extVerdict, ipMap, portMap string) {
	if clusterVerdict != "" {
		for _, ip := range sp.clusterIPs {
			r.AddElement(ipMap, frontendKey(ip, sp.proto, sp.port), clusterVerdict)
		}
	}
	for _, ip := range sp.externalIPs {
		r.AddElement(ipMap, frontendKey(ip, sp.proto, sp.port), extVerdict)
	}
	if sp.nodePort != 0 {
		r.AddElement(portMap, fmt.Sprintf("%s . %d", sp.proto, sp.nodePort), extVerdict)
	}
}

// addExternal builds the chain for traffic arriving through a NodePort, external IP
// or load-balancer IP. Cluster policy masquerades it (the reply must come back
// through this node); Local policy keeps the client address and uses only this
// node's endpoints (localVerdict), except for traffic from pods and from the node
// itself, which behaves as if it went to the ClusterIP (and the node's own is
// masqueraded, since it may come from 127.0.0.1).
func addExternal(r *nfttable.Ruleset, st State, sp *servicePort, localVerdict string) {
	name, cluster := extChain(sp), "goto "+svcChain(sp)
	r.AddChain(name)
	if !sp.extLocal {
		r.AddRule(name, "jump", chainMarkMasq)
		r.AddRule(name, cluster)
		return
	}
	if len(st.ClusterCIDRs) > 0 {
		r.AddRule(name, "ip saddr", cidrSet(st.ClusterCIDRs), cluster)
	}
	r.AddRule(name, "fib saddr type local jump", chainMarkMasq)
	r.AddRule(name, "fib saddr type local", cluster)
	r.AddRule(name, localVerdict)
}

// addBalancing ends chain with the choice of an endpoint: the one a client is stuck
// to under ClientIP affinity, else a random one.
func addBalancing(r *nfttable.Ruleset, chain string, sp *servicePort, eps []endpoint) {
	if sp.affinity > 0 {
		for _, e := range eps {
			r.AddRule(chain, "ip saddr", "@"+affinitySet(sp, e), "goto", epChain(sp, e))
		}
	}
	if len(eps) == 1 {
		r.AddRule(chain, "goto", epChain(sp, eps[0]))
		return
	}
	targets := make([]string, len(eps))
	for i, e := range eps {
		targets[i] = fmt.Sprintf("%d : goto %s", i, epChain(sp, e))
	}
	// " , " rather than ", ": knftables' fake reads a chain name up to the next space.
	r.AddRule(chain, "numgen random mod", len(eps), "vmap {", strings.Join(targets, " , "), "}")
}

// addEndpoint adds the chain that DNATs to one endpoint. A pod that reaches itself
// through its service (hairpin) is masqueraded, or it would answer itself directly
// and drop the reply as unexpected.
func addEndpoint(r *nfttable.Ruleset, sp *servicePort, e endpoint) {
	name := epChain(sp, e)
	r.AddChain(name, knftables.Concat("ip saddr", e.ip, "jump", chainMarkMasq))
	if sp.affinity > 0 {
		set := affinitySet(sp, e)
		r.Sets[set] = &nfttable.Set{Type: "ipv4_addr", Flags: []knftables.SetFlag{knftables.DynamicFlag, knftables.TimeoutFlag},
			Timeout: sp.affinity, Size: 65535}
		r.AddRule(name, "update", "@"+set, "{ ip saddr }")
	}
	r.AddRule(name, "meta l4proto", sp.proto, "dnat to", fmt.Sprintf("%s:%d", e.ip, e.port))
}

func frontendKey(ip, proto string, port int32) string {
	return fmt.Sprintf("%s . %s . %d", ip, proto, port)
}

func cidrSet(cidrs []string) string {
	if len(cidrs) == 1 {
		return cidrs[0]
	}
	return "{ " + strings.Join(cidrs, ", ") + " }"
}

// addFlows records the UDP paths of sp, for conntrack cleanup.
func addFlows(flows map[Flow]bool, sp *servicePort) {
	for _, e := range sp.endpoints {
		for _, ip := range sp.clusterIPs {
			flows[Flow{Dest: ip, Port: sp.port, Endpoint: e.ip}] = true
		}
		for _, ip := range sp.externalIPs {
			flows[Flow{Dest: ip, Port: sp.port, Endpoint: e.ip}] = true
		}
		if sp.nodePort != 0 {
			flows[Flow{Port: sp.nodePort, Endpoint: e.ip}] = true
		}
	}
}
