package dns

import (
	"log/slog"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Limits the kubelet applies to a pod's resolv.conf: glibc reads at most three
// nameservers, and the search list is bounded in count and total length.
const (
	maxNameservers   = 3
	maxSearches      = 32
	maxSearchChars   = 2048
	clusterFirstOpts = "ndots:5"
)

// PodDNSConfig computes a pod's resolv.conf as the kubelet does, for the agent to
// pass to the runtime as the sandbox's DNSConfig.
//
//   - ClusterFirst (the default): the cluster DNS server, the search list
//     <ns>.svc.<domain> svc.<domain> <domain> followed by the host's, and ndots:5.
//     A hostNetwork pod gets the host's configuration instead, since it usually
//     serves the node itself.
//   - ClusterFirstWithHostNet: ClusterFirst even for hostNetwork pods.
//   - Default: the host's resolv.conf (hostResolvConf, a path; "" means none).
//   - None: nothing but the pod's dnsConfig.
//
// The pod's dnsConfig is then merged in: nameservers and searches appended without
// duplicates, options overriding by name.
func PodDNSConfig(pod *corev1.Pod, clusterDNS, clusterDomain, hostResolvConf string) (servers, searches, options []string) {
	clusterDomain = strings.TrimSuffix(clusterDomain, ".")
	var host resolvConf
	if hostResolvConf != "" {
		rc, err := readResolvConf(hostResolvConf)
		if err != nil {
			slog.Warn("dns: cannot read host resolv.conf; pods get no host resolvers", "path", hostResolvConf, "err", err)
		}
		host = rc
	}
	switch effectivePolicy(pod, clusterDNS) {
	case corev1.DNSClusterFirst:
		servers = []string{clusterDNS}
		searches = clusterSearches(pod.Namespace, clusterDomain, host.searches)
		options = []string{clusterFirstOpts}
	case corev1.DNSDefault:
		servers = append(servers, host.servers...)
		searches = append(searches, host.searches...)
		options = append(options, host.options...)
	}
	if c := pod.Spec.DNSConfig; c != nil {
		servers = unique(append(servers, c.Nameservers...))
		searches = unique(append(searches, c.Searches...))
		options = mergeOptions(options, c.Options)
	}
	return limitServers(servers), limitSearches(searches), options
}

// effectivePolicy reduces the four policies to ClusterFirst, Default or None.
func effectivePolicy(pod *corev1.Pod, clusterDNS string) corev1.DNSPolicy {
	policy := pod.Spec.DNSPolicy
	switch policy {
	case corev1.DNSNone, corev1.DNSDefault:
		return policy
	case corev1.DNSClusterFirstWithHostNet:
		policy = corev1.DNSClusterFirst
	default: // ClusterFirst, or unset, which the API defaults to ClusterFirst
		if pod.Spec.HostNetwork {
			return corev1.DNSDefault
		}
		policy = corev1.DNSClusterFirst
	}
	if clusterDNS == "" {
		// No cluster DNS configured: the host's resolvers are better than none.
		slog.Warn("dns: no cluster DNS address; pod falls back to the host's resolv.conf",
			"pod", pod.Namespace+"/"+pod.Name)
		return corev1.DNSDefault
	}
	return policy
}

func clusterSearches(ns, domain string, host []string) []string {
	if domain == "" {
		return append([]string(nil), host...)
	}
	out := []string{ns + ".svc." + domain, "svc." + domain, domain}
	return unique(append(out, host...))
}

func mergeOptions(base []string, extra []corev1.PodDNSConfigOption) []string {
	type opt struct{ name, value string }
	var opts []opt
	index := map[string]int{}
	set := func(name, value string) {
		if i, ok := index[name]; ok {
			opts[i].value = value
			return
		}
		index[name] = len(opts)
		opts = append(opts, opt{name, value})
	}
	for _, o := range base {
		name, value, _ := strings.Cut(o, ":")
		set(name, value)
	}
	for _, o := range extra {
		value := ""
		if o.Value != nil {
			value = *o.Value
		}
		set(o.Name, value)
	}
	out := make([]string, 0, len(opts))
	for _, o := range opts {
		if o.value == "" {
			out = append(out, o.name)
		} else {
			out = append(out, o.name+":"+o.value)
		}
	}
	return out
}

func limitServers(s []string) []string {
	if len(s) > maxNameservers {
		slog.Warn("dns: too many nameservers; extra ones dropped", "kept", s[:maxNameservers], "dropped", s[maxNameservers:])
		return s[:maxNameservers]
	}
	return s
}

// limitSearches keeps the leading searches that fit both limits, as the kubelet
// does, rather than failing the pod.
func limitSearches(s []string) []string {
	chars := 0
	for i, d := range s {
		chars += len(d)
		if i > 0 {
			chars++ // the separating space
		}
		if i >= maxSearches || chars > maxSearchChars {
			slog.Warn("dns: search list too long; truncated", "kept", len(s[:i]), "dropped", s[i:])
			return s[:i]
		}
	}
	return s
}

func unique(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
