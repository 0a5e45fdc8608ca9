package proxy

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// State is everything the rules are computed from: the informers' Services and
// EndpointSlices plus what the proxy knows about its node.
type State struct {
	Services []*corev1.Service
	Slices   []*discoveryv1.EndpointSlice
	NodeName string
	// ClusterCIDRs are the IPv4 pod ranges; traffic to a ClusterIP from outside them
	// is masqueraded so replies come back through this node. Empty: never.
	ClusterCIDRs []string
	// NodePortCIDRs restrict the addresses NodePorts answer on; empty means every
	// local address of the node (including 127.0.0.1).
	NodePortCIDRs []string
}

const serviceProxyNameLabel = "service.kubernetes.io/service-proxy-name"

// servicePort is one port of one Service, resolved against its endpoints: the unit
// the rules are built from.
type servicePort struct {
	id          string // namespace/name/proto/port: unique, stable and readable in nft
	proto       string // tcp, udp or sctp
	port        int32
	nodePort    int32
	clusterIPs  []string
	externalIPs []string // spec.externalIPs and status.loadBalancer.ingress IPs
	affinity    time.Duration
	extLocal    bool // externalTrafficPolicy: Local
	intLocal    bool // internalTrafficPolicy: Local
	endpoints   []endpoint
}

type endpoint struct {
	ip    string
	port  int32
	local bool
}

func (e endpoint) String() string { return e.ip + "/" + strconv.Itoa(int(e.port)) }

func compareEndpoints(a, b endpoint) int {
	if c := strings.Compare(a.ip, b.ip); c != 0 {
		return c
	}
	return int(a.port - b.port)
}

func (sp *servicePort) hasExternal() bool {
	return sp.nodePort != 0 || len(sp.externalIPs) > 0
}

func localOnly(eps []endpoint) []endpoint {
	var out []endpoint
	for _, e := range eps {
		if e.local {
			out = append(out, e)
		}
	}
	return out
}

// servicePorts turns the state into the ports the proxy serves, sorted by id.
// ExternalName and headless Services, and Services without an IPv4 ClusterIP, have
// no rules: DNS alone answers for them.
func servicePorts(st State) []*servicePort {
	slicesBySvc := map[string][]*discoveryv1.EndpointSlice{}
	for _, s := range st.Slices {
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" || s.AddressType != discoveryv1.AddressTypeIPv4 {
			continue
		}
		key := s.Namespace + "/" + name
		slicesBySvc[key] = append(slicesBySvc[key], s)
	}
	var out []*servicePort
	for _, svc := range st.Services {
		if !proxied(svc) {
			continue
		}
		own := slicesBySvc[svc.Namespace+"/"+svc.Name]
		for i := range svc.Spec.Ports {
			out = append(out, newServicePort(svc, &svc.Spec.Ports[i], own, st.NodeName))
		}
	}
	slices.SortFunc(out, func(a, b *servicePort) int { return strings.Compare(a.id, b.id) })
	return out
}

func proxied(svc *corev1.Service) bool {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return false
	}
	// The label hands the Service to another proxy implementation.
	if svc.Labels[serviceProxyNameLabel] != "" {
		return false
	}
	return len(ipv4s(svc.Spec.ClusterIPs, svc.Spec.ClusterIP)) > 0
}

func newServicePort(svc *corev1.Service, p *corev1.ServicePort, own []*discoveryv1.EndpointSlice, node string) *servicePort {
	proto := strings.ToLower(string(protocolOf(p.Protocol)))
	sp := &servicePort{
		id:         fmt.Sprintf("%s/%s/%s/%d", svc.Namespace, svc.Name, proto, p.Port),
		proto:      proto,
		port:       p.Port,
		clusterIPs: ipv4s(svc.Spec.ClusterIPs, svc.Spec.ClusterIP),
		extLocal:   svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal,
		intLocal: svc.Spec.InternalTrafficPolicy != nil &&
			*svc.Spec.InternalTrafficPolicy == corev1.ServiceInternalTrafficPolicyLocal,
		endpoints: portEndpoints(own, p, node),
	}
	if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		sp.nodePort = p.NodePort
	}
	ext := slices.Clone(svc.Spec.ExternalIPs)
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		for _, ing := range svc.Status.LoadBalancer.Ingress {
			// ipMode Proxy means the load balancer itself delivers to the node, so the
			// address must not be captured here.
			if ing.IPMode == nil || *ing.IPMode == corev1.LoadBalancerIPModeVIP {
				ext = append(ext, ing.IP)
			}
		}
	}
	sp.externalIPs = ipv4s(ext, "")
	if svc.Spec.SessionAffinity == corev1.ServiceAffinityClientIP {
		sp.affinity = affinityTimeout(svc.Spec.SessionAffinityConfig)
	}
	if !sp.hasExternal() {
		// The policy only concerns external traffic.
		sp.extLocal = false
	}
	return sp
}

// defaultAffinity is the API's default sessionAffinityConfig.clientIP.timeoutSeconds.
const defaultAffinity = 3 * time.Hour

func affinityTimeout(c *corev1.SessionAffinityConfig) time.Duration {
	if c == nil || c.ClientIP == nil || c.ClientIP.TimeoutSeconds == nil || *c.ClientIP.TimeoutSeconds <= 0 {
		return defaultAffinity
	}
	return time.Duration(*c.ClientIP.TimeoutSeconds) * time.Second
}

// portEndpoints picks the endpoints of one service port: the ready ones, or, when
// none is ready, the ones still serving while they terminate, so a rolling update
// of the last pod does not turn into refused connections. Slices carry the target
// port already resolved (named ports included), matched by port name and protocol.
func portEndpoints(own []*discoveryv1.EndpointSlice, p *corev1.ServicePort, node string) []endpoint {
	var ready, terminating []endpoint
	seen := map[endpoint]bool{}
	for _, s := range own {
		port, ok := slicePort(s, p)
		if !ok {
			continue
		}
		for i := range s.Endpoints {
			e := &s.Endpoints[i]
			if len(e.Addresses) == 0 {
				continue
			}
			ep := endpoint{ip: e.Addresses[0], port: port, local: e.NodeName != nil && *e.NodeName == node}
			if !isIPv4(ep.ip) || seen[ep] {
				continue
			}
			switch {
			case isTrue(e.Conditions.Ready, true):
				seen[ep] = true
				ready = append(ready, ep)
			case isTrue(e.Conditions.Serving, false) && isTrue(e.Conditions.Terminating, false):
				terminating = append(terminating, ep)
			}
		}
	}
	out := ready
	if len(out) == 0 {
		out = dedupe(terminating)
	}
	slices.SortFunc(out, compareEndpoints)
	return out
}

func slicePort(s *discoveryv1.EndpointSlice, p *corev1.ServicePort) (int32, bool) {
	for _, sp := range s.Ports {
		var proto corev1.Protocol
		if sp.Protocol != nil {
			proto = *sp.Protocol
		}
		name := ""
		if sp.Name != nil {
			name = *sp.Name
		}
		if name == p.Name && protocolOf(proto) == protocolOf(p.Protocol) && sp.Port != nil {
			return *sp.Port, true
		}
	}
	return 0, false
}

// protocolOf applies the API default (TCP) to an unset protocol.
func protocolOf(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

func dedupe(eps []endpoint) []endpoint {
	seen := map[endpoint]bool{}
	var out []endpoint
	for _, e := range eps {
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out
}

func isTrue(b *bool, unset bool) bool {
	if b == nil {
		return unset
	}
	return *b
}

func isIPv4(s string) bool {
	a, err := netip.ParseAddr(s)
	return err == nil && a.Is4()
}

// ipv4s returns the IPv4 addresses among list (or single, when list is empty),
// deduplicated in order.
func ipv4s(list []string, single string) []string {
	if len(list) == 0 && single != "" {
		list = []string{single}
	}
	var out []string
	for _, s := range list {
		if isIPv4(s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
