package kubelet

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// serviceEnv lists the Services whose addresses a container of pod learns from its
// environment; nothing until the kubelet's Service cache exists.
func (k *Kubelet) serviceEnv(pod *corev1.Pod) []envVar {
	if k.services == nil {
		return nil
	}
	svcs, err := k.services.List(labels.Everything())
	if err != nil {
		return nil
	}
	return serviceLinkEnv(svcs, pod.Namespace, pod.Spec.EnableServiceLinks == nil || *pod.Spec.EnableServiceLinks)
}

// serviceLinkEnv computes the service variables of a pod in namespace ns: the
// default/kubernetes Service always (client-go's in-cluster config reads it), and
// with service links every Service of ns that has a cluster IP, in the docker-links
// style (FOO_SERVICE_HOST, FOO_PORT_80_TCP_ADDR...). Sorted by name so a container
// restarted with the same Services sees the same environment.
func serviceLinkEnv(svcs []*corev1.Service, ns string, links bool) []envVar {
	chosen := map[string]*corev1.Service{}
	for _, s := range svcs {
		if s.Spec.ClusterIP == "" || s.Spec.ClusterIP == corev1.ClusterIPNone {
			continue
		}
		isMaster := s.Namespace == corev1.NamespaceDefault && s.Name == "kubernetes"
		if (links && s.Namespace == ns) || (isMaster && chosen[s.Name] == nil) {
			chosen[s.Name] = s
		}
	}
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	slices.SortFunc(names, cmp.Compare)
	var out []envVar
	for _, n := range names {
		out = append(out, serviceVars(chosen[n])...)
	}
	return out
}

// serviceVars spells one Service's address: FOO_SERVICE_HOST/PORT and a named
// FOO_SERVICE_PORT_NAME per named port, then FOO_PORT for the first port and
// FOO_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR} for each.
func serviceVars(svc *corev1.Service) []envVar {
	if len(svc.Spec.Ports) == 0 {
		return nil
	}
	name := envName(svc.Name)
	ip := svc.Spec.ClusterIP
	out := []envVar{{name + "_SERVICE_HOST", ip}, {name + "_SERVICE_PORT", strconv.Itoa(int(svc.Spec.Ports[0].Port))}}
	for _, p := range svc.Spec.Ports {
		if p.Name != "" {
			out = append(out, envVar{name + "_SERVICE_PORT_" + envName(p.Name), strconv.Itoa(int(p.Port))})
		}
	}
	for i, p := range svc.Spec.Ports {
		port := strconv.Itoa(int(p.Port))
		proto := string(p.Protocol)
		if proto == "" {
			proto = string(corev1.ProtocolTCP)
		}
		lower := strings.ToLower(proto)
		url := lower + "://" + net.JoinHostPort(ip, port)
		if i == 0 {
			out = append(out, envVar{name + "_PORT", url})
		}
		prefix := name + "_PORT_" + port + "_" + proto
		out = append(out, envVar{prefix, url}, envVar{prefix + "_PROTO", lower},
			envVar{prefix + "_PORT", port}, envVar{prefix + "_ADDR", ip})
	}
	return out
}

// envName turns a Service or port name into the variable-name form: upper case,
// dashes as underscores.
func envName(s string) string {
	return strings.ToUpper(strings.ReplaceAll(s, "-", "_"))
}

// withServiceEnv puts the service variables first; the container's own win.
func withServiceEnv(svc, own []envVar) []envVar {
	set := map[string]bool{}
	for _, e := range own {
		set[e.Name] = true
	}
	out := make([]envVar, 0, len(svc)+len(own))
	for _, e := range svc {
		if !set[e.Name] {
			out = append(out, e)
		}
	}
	return append(out, own...)
}
