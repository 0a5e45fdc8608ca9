package printers

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// listMax is how many endpoints, ports or hosts a cell names before "+ N more...".
const listMax = 3

// addNetworking registers Services and what routes traffic to pods.
func addNetworking(m map[schema.GroupKind]*Printer) {
	svcDoc := corev1.ServiceSpec{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Type", typeString, svcDoc["type"]),
		col("Cluster-IP", typeString, svcDoc["clusterIP"]),
		col("External-IP", typeString, svcDoc["externalIPs"]),
		col("Port(s)", typeString, svcDoc["ports"]),
		ageColumn(),
		wide("Selector", typeString, svcDoc["selector"]),
	}, serviceRow), "", "Service")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Endpoints", typeString, corev1.Endpoints{}.SwaggerDoc()["subsets"]),
		ageColumn(),
	}, func(ep *corev1.Endpoints, now time.Time) []interface{} {
		return []interface{}{ep.Name, endpointsCell(ep), age(now, ep.CreationTimestamp)}
	}), "", "Endpoints")

	sliceDoc := discoveryv1.EndpointSlice{}.SwaggerDoc()
	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("AddressType", typeString, sliceDoc["addressType"]),
		col("Ports", typeString, sliceDoc["ports"]),
		col("Endpoints", typeString, sliceDoc["endpoints"]),
		ageColumn(),
	}, func(s *discoveryv1.EndpointSlice, now time.Time) []interface{} {
		return []interface{}{s.Name, string(s.AddressType), slicePortsCell(s.Ports),
			sliceEndpointsCell(s.Endpoints), age(now, s.CreationTimestamp)}
	}), "discovery.k8s.io", "EndpointSlice")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Class", typeString, "The IngressClass that serves this ingress."),
		col("Hosts", typeString, "Host names the rules match; * for any host."),
		col("Address", typeString, "Addresses the ingress controller published."),
		col("Ports", typeString, "Ports served: 80, and 443 when TLS is configured."),
		ageColumn(),
	}, ingressRow), "networking.k8s.io", "Ingress")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Controller", typeString, "The controller implementing ingresses of this class."),
		col("Parameters", typeString, "The object holding the controller's parameters for this class."),
		ageColumn(),
	}, func(ic *networkingv1.IngressClass, now time.Time) []interface{} {
		params := none
		if p := ic.Spec.Parameters; p != nil {
			params = p.Kind
			if p.APIGroup != nil {
				params += "." + *p.APIGroup
			}
			params += "/" + p.Name
		}
		return []interface{}{ic.Name, ic.Spec.Controller, params, age(now, ic.CreationTimestamp)}
	}), "networking.k8s.io", "IngressClass")

	register(m, printerOf([]metav1.TableColumnDefinition{
		nameColumn(),
		col("Pod-Selector", typeString, networkingv1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]),
		ageColumn(),
	}, func(np *networkingv1.NetworkPolicy, now time.Time) []interface{} {
		return []interface{}{np.Name, metav1.FormatLabelSelector(&np.Spec.PodSelector), age(now, np.CreationTimestamp)}
	}), "networking.k8s.io", "NetworkPolicy")

	addServiceAddresses(m)
}

func serviceRow(svc *corev1.Service, now time.Time) []interface{} {
	clusterIP := svc.Spec.ClusterIP
	if len(svc.Spec.ClusterIPs) > 0 {
		clusterIP = svc.Spec.ClusterIPs[0]
	}
	return []interface{}{
		svc.Name,
		string(svc.Spec.Type),
		orElse(clusterIP, none),
		serviceExternalIP(svc),
		orElse(servicePorts(svc.Spec.Ports), none),
		age(now, svc.CreationTimestamp),
		labels.FormatLabels(svc.Spec.Selector),
	}
}

// serviceExternalIP is where the service is reachable from outside: its external
// IPs, the load balancer's addresses (<pending> until one is assigned), or the DNS
// name an ExternalName service aliases.
func serviceExternalIP(svc *corev1.Service) string {
	switch svc.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(svc.Spec.ExternalIPs) > 0 {
			return strings.Join(svc.Spec.ExternalIPs, ",")
		}
		return none
	case corev1.ServiceTypeLoadBalancer:
		addrs := lbAddresses(svc.Status.LoadBalancer.Ingress)
		addrs = append(addrs, svc.Spec.ExternalIPs...)
		if len(addrs) == 0 {
			return pending
		}
		return strings.Join(addrs, ",")
	case corev1.ServiceTypeExternalName:
		return svc.Spec.ExternalName
	}
	return unknown
}

// lbAddresses are the distinct IPs (or, lacking one, host names) of a load
// balancer's ingress points, sorted. The API server always renders the wide form,
// so the list is not clipped here.
func lbAddresses(ingress []corev1.LoadBalancerIngress) []string {
	seen := map[string]bool{}
	var out []string
	for _, in := range ingress {
		a := orElse(in.IP, in.Hostname)
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}

// servicePorts is "port/proto" or, with a node port, "port:nodePort/proto".
func servicePorts(ports []corev1.ServicePort) string {
	pieces := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			pieces[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			pieces[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(pieces, ",")
}

// endpointsCell lists ip:port for every port of every subset (bare IPs for
// headless services without ports).
func endpointsCell(ep *corev1.Endpoints) string {
	if len(ep.Subsets) == 0 {
		return none
	}
	var list []string
	for _, ss := range ep.Subsets {
		if len(ss.Ports) == 0 {
			for _, a := range ss.Addresses {
				list = append(list, a.IP)
			}
			continue
		}
		for _, p := range ss.Ports {
			for _, a := range ss.Addresses {
				list = append(list, net.JoinHostPort(a.IP, strconv.Itoa(int(p.Port))))
			}
		}
	}
	return truncatedList(list, listMax, ",")
}

func slicePortsCell(ports []discoveryv1.EndpointPort) string {
	list := make([]string, 0, len(ports))
	for _, p := range ports {
		switch {
		case p.Port != nil:
			list = append(list, strconv.Itoa(int(*p.Port)))
		case p.Name != nil:
			list = append(list, *p.Name)
		default:
			list = append(list, "*")
		}
	}
	return orElse(truncatedList(list, listMax, ","), unset)
}

func sliceEndpointsCell(endpoints []discoveryv1.Endpoint) string {
	var list []string
	for _, e := range endpoints {
		list = append(list, e.Addresses...)
	}
	return orElse(truncatedList(list, listMax, ","), unset)
}

func ingressRow(ing *networkingv1.Ingress, now time.Time) []interface{} {
	class := none
	if ing.Spec.IngressClassName != nil {
		class = *ing.Spec.IngressClassName
	}
	var addrs []string
	seen := map[string]bool{}
	for _, in := range ing.Status.LoadBalancer.Ingress {
		a := orElse(in.IP, in.Hostname)
		if a != "" && !seen[a] {
			seen[a] = true
			addrs = append(addrs, a)
		}
	}
	sort.Strings(addrs)
	ports := "80"
	if len(ing.Spec.TLS) > 0 {
		ports = "80, 443"
	}
	return []interface{}{ing.Name, class, ingressHosts(ing.Spec.Rules), strings.Join(addrs, ","), ports,
		age(now, ing.CreationTimestamp)}
}

// ingressHosts names the hosts of the first rules; rules without a host match every
// host ("*"). The count of the rest is of rules, not hosts, as in Kubernetes.
func ingressHosts(rules []networkingv1.IngressRule) string {
	var hosts []string
	for _, r := range rules {
		if len(hosts) == listMax {
			return fmt.Sprintf("%s + %d more...", strings.Join(hosts, ","), len(rules)-listMax)
		}
		if r.Host != "" {
			hosts = append(hosts, r.Host)
		}
	}
	if len(hosts) == 0 {
		return "*"
	}
	return strings.Join(hosts, ",")
}
