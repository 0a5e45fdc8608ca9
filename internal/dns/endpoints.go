package dns

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// endpoint is one address of a Service as DNS sees it: the label it is published
// under and its IP.
type endpoint struct {
	host  string
	ip    netip.Addr
	ports []discoveryv1.EndpointPort // the ports of the slice the endpoint came from
}

// endpointsOf lists the endpoints DNS publishes for a Service: ready ones, or every
// one when the Service asks for not-ready addresses to be published (StatefulSet
// peers must find each other before they are ready). Duplicates, which appear while
// an endpoint moves between slices, are dropped.
func (s *store) endpointsOf(svc *corev1.Service) []endpoint {
	var out []endpoint
	seen := map[netip.Addr]bool{}
	for _, slice := range s.slicesOf(svc.Namespace, svc.Name) {
		if slice.AddressType == discoveryv1.AddressTypeFQDN {
			continue
		}
		for _, ep := range slice.Endpoints {
			if !published(svc, ep) {
				continue
			}
			for _, raw := range ep.Addresses {
				ip, err := netip.ParseAddr(raw)
				if err != nil || seen[ip] {
					continue
				}
				seen[ip] = true
				out = append(out, endpoint{host: endpointHost(ep, ip), ip: ip, ports: slice.Ports})
			}
		}
	}
	return out
}

func published(svc *corev1.Service, ep discoveryv1.Endpoint) bool {
	if svc.Spec.PublishNotReadyAddresses {
		return true
	}
	// The API defines an unset ready condition as ready.
	return ep.Conditions.Ready == nil || *ep.Conditions.Ready
}

// endpointHost is the endpoint's hostname field or, when it has none, the dashed
// form of its IP: unique within the Service and reversible, which is what the DNS
// specification asks of a system-assigned identifier.
func endpointHost(ep discoveryv1.Endpoint, ip netip.Addr) string {
	if ep.Hostname != nil && *ep.Hostname != "" {
		return strings.ToLower(*ep.Hostname)
	}
	return dashed(ip)
}

// dashed writes an IP as one DNS label: 10.1.2.3 → 10-1-2-3, fd00::1 → fd00--1.
func dashed(ip netip.Addr) string {
	if ip.Is4() {
		return strings.ReplaceAll(ip.String(), ".", "-")
	}
	return strings.ReplaceAll(ip.String(), ":", "-")
}

// undashed reverses dashed; ok is false for a label that is not an IP.
func undashed(label string) (netip.Addr, bool) {
	if strings.Count(label, "-") == 3 {
		if ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ".")); err == nil && ip.Is4() {
			return ip, true
		}
	}
	ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", ":"))
	if err != nil || !ip.Is6() || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	return ip, true
}

// endpointFor finds the Service and hostname that publish ip as a headless
// endpoint, for reverse lookups.
func (s *store) endpointFor(ip netip.Addr) (*corev1.Service, string, bool) {
	for _, slice := range s.slicesByIP(ip) {
		svc := s.service(slice.Namespace, strings.ToLower(slice.Labels[discoveryv1.LabelServiceName]))
		if svc == nil || !isHeadless(svc) {
			continue
		}
		for _, ep := range slice.Endpoints {
			if !published(svc, ep) || !hasAddress(ep, ip) {
				continue
			}
			return svc, endpointHost(ep, ip), true
		}
	}
	return nil, "", false
}

func hasAddress(ep discoveryv1.Endpoint, ip netip.Addr) bool {
	for _, raw := range ep.Addresses {
		if a, err := netip.ParseAddr(raw); err == nil && a == ip {
			return true
		}
	}
	return false
}

func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName && len(clusterIPs(svc)) == 0
}
