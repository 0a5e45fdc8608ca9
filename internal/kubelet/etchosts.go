package kubelet

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"skiff/internal/kubelet/volume"
)

// etcHostsPath is where containers see the hosts file.
const etcHostsPath = "/etc/hosts"

// managedHostsHeader starts the hosts file the kubelet writes for a pod with its own
// network; applications (and the conformance suite) look for it.
const managedHostsHeader = "# Kubernetes-managed hosts file.\n"

// podHostname is the pod's hostname: spec.hostname, else its name cut to the 63
// characters a hostname may have.
func podHostname(pod *corev1.Pod) string {
	h := pod.Spec.Hostname
	if h == "" {
		h = pod.Name
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// managedHosts renders the hosts file of a pod with its own network namespace:
// loopback names, each pod IP with the pod's hostname (and its
// hostname.subdomain.namespace.svc.DOMAIN name when it has a subdomain), then the
// pod's hostAliases.
func managedHosts(pod *corev1.Pod, podIPs []string, clusterDomain string) []byte {
	var b bytes.Buffer
	b.WriteString(managedHostsHeader)
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	host := podHostname(pod)
	names := host
	if sub := pod.Spec.Subdomain; sub != "" && clusterDomain != "" {
		names = fmt.Sprintf("%s.%s.%s.svc.%s\t%s", host, sub, pod.Namespace, clusterDomain, host)
	}
	for _, ip := range podIPs {
		fmt.Fprintf(&b, "%s\t%s\n", ip, names)
	}
	b.Write(hostAliases(pod.Spec.HostAliases))
	return b.Bytes()
}

// hostNetworkHostsHeader starts a host-network pod's file, which is the node's.
const hostNetworkHostsHeader = "# Kubernetes-managed hosts file (host network).\n"

// nodeHosts is the hosts file of a host-network pod: the node's own, with the
// pod's hostAliases added.
func nodeHosts(node []byte, aliases []corev1.HostAlias) []byte {
	out := append([]byte(hostNetworkHostsHeader), node...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	return append(out, hostAliases(aliases)...)
}

func hostAliases(aliases []corev1.HostAlias) []byte {
	if len(aliases) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		fmt.Fprintf(&b, "%s\t%s\n", a.IP, strings.Join(a.Hostnames, "\t"))
	}
	return b.Bytes()
}

// mountsEtcHosts reports whether the container brings its own /etc/hosts through a
// volume, in which case the kubelet leaves it alone.
func mountsEtcHosts(c *corev1.Container) bool {
	for _, m := range c.VolumeMounts {
		if filepath.Clean(m.MountPath) == etcHostsPath {
			return true
		}
	}
	return false
}

// etcHostsMount writes the pod's hosts file under its directory and returns the
// mount that puts it at /etc/hosts, or nil when the container mounts its own.
// A host-network pod gets the node's file (plus hostAliases); every other pod the
// managed one, which needs the pod's IPs.
func (k *Kubelet) etcHostsMount(pod *corev1.Pod, c *corev1.Container) (*runtimeapi.Mount, error) {
	if mountsEtcHosts(c) {
		return nil, nil
	}
	var content []byte
	if pod.Spec.HostNetwork {
		node, err := os.ReadFile(etcHostsPath)
		if err != nil {
			return nil, fmt.Errorf("reading the node's hosts file: %w", err)
		}
		content = nodeHosts(node, pod.Spec.HostAliases)
	} else {
		var ips []string
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		content = managedHosts(pod, ips, k.cfg.ClusterDomain)
	}
	dir := volume.PodDir(k.cfg.RootDir, pod.UID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "etc-hosts")
	if err := writeFileAtomic(path, content, 0o644); err != nil {
		return nil, err
	}
	return &runtimeapi.Mount{ContainerPath: etcHostsPath, HostPath: path, Propagation: runtimeapi.MountPropagation_PROPAGATION_PRIVATE}, nil
}

// writeFileAtomic replaces path's content without a moment in which a running
// container of the pod could read a half-written file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
