package ingress

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

const reasonNoEndpoints = "no ready endpoints"

// sources is what a table is built from; the controller backs it with listers and
// tests with maps.
type sources interface {
	service(ns, name string) *corev1.Service
	slices(ns, service string) []*discoveryv1.EndpointSlice
	secret(ns, name string) *corev1.Secret
}

// buildTable turns the Ingresses this controller serves into a routing table.
// Ingresses are taken oldest first so that conflicts resolve the same way on every
// node and at every rebuild.
func buildTable(ings []*networkingv1.Ingress, src sources, certs *certCache) *table {
	ings = append([]*networkingv1.Ingress(nil), ings...)
	sort.SliceStable(ings, func(i, j int) bool {
		a, b := ings[i], ings[j]
		if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
			return a.CreationTimestamp.Before(&b.CreationTimestamp)
		}
		return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
	})
	t := newTable()
	bs := backendSet{src: src, byKey: map[string]*backend{}, problems: &t.problems}
	for _, ing := range ings {
		addRules(t, ing, &bs)
		if d := ing.Spec.DefaultBackend; d != nil && t.fallback == nil {
			t.fallback = bs.get(ing.Namespace, d)
		}
		addTLS(t, ing, src, certs)
	}
	t.sortRoutes()
	return t
}

func addRules(t *table, ing *networkingv1.Ingress, bs *backendSet) {
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		r := t.routesFor(strings.ToLower(rule.Host))
		for _, p := range rule.HTTP.Paths {
			rt := route{backend: bs.get(ing.Namespace, &p.Backend)}
			path := p.Path
			if path == "" {
				path = "/"
			}
			if p.PathType != nil && *p.PathType == networkingv1.PathTypeExact {
				rt.path, rt.exact = path, true
			} else {
				// Prefix, and ImplementationSpecific, which skiff treats as Prefix.
				rt.path = prefixPath(path)
			}
			r.list = append(r.list, rt)
		}
	}
}

// backendSet shares one backend (and its round-robin position) between every rule
// naming the same Service port.
type backendSet struct {
	src      sources
	byKey    map[string]*backend
	problems *[]string
}

func (bs *backendSet) get(ns string, ib *networkingv1.IngressBackend) *backend {
	if ib.Service == nil {
		b := &backend{name: ns + "/<resource backend>", reason: "resource backends are not supported by skiff"}
		*bs.problems = append(*bs.problems, b.reason)
		return b
	}
	port := ib.Service.Port.Name
	if port == "" {
		port = strconv.Itoa(int(ib.Service.Port.Number))
	}
	key := ns + "/" + ib.Service.Name + ":" + port
	if b, ok := bs.byKey[key]; ok {
		return b
	}
	b := &backend{name: key}
	b.endpoints, b.reason = resolveBackend(bs.src, ns, ib.Service)
	// An empty backend is routine during rollouts; only configuration errors are
	// worth a warning.
	if b.reason != "" && b.reason != reasonNoEndpoints {
		*bs.problems = append(*bs.problems, key+": "+b.reason)
	}
	bs.byKey[key] = b
	return b
}

// resolveBackend maps an Ingress service backend to the addresses to dial: the
// ready endpoints' IPs with the endpoint port of the Service port named in the rule.
// The proxy dials them directly, not the ClusterIP, so it chooses (and retries)
// the endpoint itself.
func resolveBackend(src sources, ns string, isb *networkingv1.IngressServiceBackend) ([]string, string) {
	svc := src.service(ns, isb.Name)
	if svc == nil {
		return nil, "service not found"
	}
	sp, ok := servicePort(svc, isb.Port)
	if !ok {
		return nil, fmt.Sprintf("service has no port %s", portString(isb.Port))
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return []string{net.JoinHostPort(svc.Spec.ExternalName, strconv.Itoa(int(sp.Port)))}, ""
	}
	var eps []string
	seen := map[string]bool{}
	for _, s := range src.slices(ns, isb.Name) {
		port, ok := slicePort(s, sp)
		if !ok || s.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				hp := net.JoinHostPort(a, strconv.Itoa(int(port)))
				if !seen[hp] {
					seen[hp] = true
					eps = append(eps, hp)
				}
			}
		}
	}
	if len(eps) == 0 {
		return nil, reasonNoEndpoints
	}
	sort.Strings(eps) // the same order on every rebuild keeps round-robin fair
	return eps, ""
}

func servicePort(svc *corev1.Service, p networkingv1.ServiceBackendPort) (corev1.ServicePort, bool) {
	for _, sp := range svc.Spec.Ports {
		if p.Name != "" && sp.Name == p.Name || p.Name == "" && sp.Port == p.Number {
			return sp, true
		}
	}
	return corev1.ServicePort{}, false
}

// slicePort finds the endpoint port for a Service port: slices name their ports
// after the Service's.
func slicePort(s *discoveryv1.EndpointSlice, sp corev1.ServicePort) (int32, bool) {
	for _, p := range s.Ports {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil {
			proto = *p.Protocol
		}
		if name == sp.Name && proto == corev1.ProtocolTCP && p.Port != nil {
			return *p.Port, true
		}
	}
	return 0, false
}

func portString(p networkingv1.ServiceBackendPort) string {
	if p.Name != "" {
		return strconv.Quote(p.Name)
	}
	return strconv.Itoa(int(p.Number))
}
