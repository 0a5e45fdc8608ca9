// Package agent is `skiff agent`: it joins a node to the cluster (or takes the
// credentials of the server's own node), runs containerd for it, and runs the kubelet.
package agent

import (
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	kubeletapis "k8s.io/kubelet/pkg/apis"

	"skiff/internal/hostnet"
	"skiff/internal/kubelet"
)

// Config is what `skiff agent` is told, or what `skiff server` passes for its node.
type Config struct {
	// Server is the API server URL, e.g. https://10.0.0.1:6443.
	Server string
	// Token is the cluster join token (not needed with a ready rest.Config).
	Token    string
	DataDir  string
	NodeName string // default: the host name
	NodeIP   string // default: the address of the interface of the default route
	// ContainerRuntimeEndpoint names an existing CRI socket; empty runs containerd.
	ContainerRuntimeEndpoint string
	// RegistryMirrors are registry names, besides skiff.local and "*", that
	// containerd pulls from the cluster registry.
	RegistryMirrors []string
	// RegistryEndpoint is the cluster registry's URL; default: Server.
	RegistryEndpoint string
	KubeletPort      int // 0 picks a free port
	Labels           map[string]string
	Taints           []corev1.Taint
	ControlPlane     bool
	// ClusterCIDR is the range of all pod IPs; traffic leaving it is masqueraded.
	ClusterCIDR string
	// ServiceCIDR is the range of Service IPs; the cluster DNS is its .10.
	ServiceCIDR   string
	ClusterDomain string
	// DNSPort is where this node's DNS server listens on the node IP (0 picks one).
	DNSPort int
	// IngressHTTPPort and IngressHTTPSPort are the ingress controller's ports on every
	// node address; 0 disables.
	IngressHTTPPort, IngressHTTPSPort int
	// EvictionHard are the kubelet's hard eviction thresholds, e.g.
	// "memory.available<100Mi,nodefs.available<10%"; empty takes Kubernetes' defaults.
	EvictionHard string
	// EvictionPressureTransition keeps a pressure condition on this long after its
	// threshold was last met; 0 takes the default (5m).
	EvictionPressureTransition time.Duration

	// For the server's own node (Run with a rest.Config): the cluster CA and the
	// node's serving certificate, which a joining agent gets from the join call.
	CAPEM       []byte
	ServingCert *tls.Certificate
}

// DefaultServiceCIDR and DefaultClusterDomain match the server's defaults.
const (
	DefaultServiceCIDR   = "10.43.0.0/16"
	DefaultClusterDomain = "cluster.local"
)

// DefaultClusterCIDR matches `skiff server --cluster-cidr`'s default.
const DefaultClusterCIDR = "10.42.0.0/16"

// ParseFlags reads `skiff agent` flags.
func ParseFlags(args []string) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Server, "server", "", "API server URL, e.g. https://10.0.0.1:6443 (required)")
	fs.StringVar(&c.Token, "token", "", "join token: the server's <data-dir>/token (required on first join)")
	fs.StringVar(&c.DataDir, "data-dir", "/var/lib/skiff-agent", "where the agent keeps its state")
	fs.StringVar(&c.NodeName, "node-name", "", "node name (default: host name)")
	fs.StringVar(&c.NodeIP, "node-ip", "", "node address (default: that of the default route's interface)")
	fs.StringVar(&c.ContainerRuntimeEndpoint, "container-runtime-endpoint", "", "existing CRI socket; empty: skiff runs containerd")
	fs.StringVar(&c.RegistryEndpoint, "registry-endpoint", "", "cluster registry URL (default: --server)")
	fs.StringVar(&c.ClusterCIDR, "cluster-cidr", DefaultClusterCIDR, "the cluster's pod range, as given to the server")
	fs.IntVar(&c.KubeletPort, "kubelet-port", 10250, "HTTPS port for logs and streaming (0 picks a free one)")
	fs.StringVar(&c.ServiceCIDR, "service-cidr", DefaultServiceCIDR, "the cluster's Service range, as given to the server")
	fs.StringVar(&c.ClusterDomain, "cluster-domain", DefaultClusterDomain, "the cluster's DNS domain")
	fs.IntVar(&c.DNSPort, "dns-port", 53, "port of this node's DNS server on the node address (0 picks a free one)")
	fs.IntVar(&c.IngressHTTPPort, "ingress-http-port", 80, "ingress controller HTTP port on every node address (0 disables)")
	fs.IntVar(&c.IngressHTTPSPort, "ingress-https-port", 443, "ingress controller HTTPS port (0 disables)")
	fs.StringVar(&c.EvictionHard, "eviction-hard", kubelet.DefaultEvictionHard, "hard eviction thresholds, signal<quantity or signal<percent%, comma-separated (signals: memory.available, nodefs.available, nodefs.inodesFree, pid.available)")
	fs.DurationVar(&c.EvictionPressureTransition, "eviction-pressure-transition-period", 5*time.Minute, "how long a pressure condition stays on after its threshold was last met")
	fs.Func("registry-mirror", "registry name pulled from the cluster registry (repeatable, or comma-separated)", func(s string) error {
		for _, m := range strings.Split(s, ",") {
			if m = strings.TrimSpace(m); m != "" {
				c.RegistryMirrors = append(c.RegistryMirrors, m)
			}
		}
		return nil
	})
	fs.Func("node-label", "label key=value for the node (repeatable)", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("--node-label %q: want key=value", s)
		}
		if ns, _, _ := strings.Cut(k, "/"); (ns == "kubernetes.io" || ns == "k8s.io" || strings.HasSuffix(ns, ".kubernetes.io") ||
			strings.HasSuffix(ns, ".k8s.io")) && !kubeletapis.IsKubeletLabel(k) {
			// NodeRestriction would refuse the registration.
			return fmt.Errorf("--node-label %q: a node may set only these kubernetes.io and k8s.io labels itself: %s, and the namespaces %s; "+
				"an administrator sets others (kubectl label node)", s, strings.Join(kubeletapis.KubeletLabels(), ", "), strings.Join(kubeletapis.KubeletLabelNamespaces(), ", "))
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		c.Labels[k] = v
		return nil
	})
	fs.Func("node-taint", "taint key=value:Effect or key:Effect for the node (repeatable)", func(s string) error {
		t, err := parseTaint(s)
		if err == nil {
			c.Taints = append(c.Taints, t)
		}
		return err
	})
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	if _, err := kubelet.ParseEvictionHard(c.EvictionHard); err != nil {
		return c, fmt.Errorf("--eviction-hard: %w", err)
	}
	abs, err := filepath.Abs(c.DataDir)
	if err != nil {
		return c, err
	}
	c.DataDir = abs
	return c, nil
}

func parseTaint(s string) (corev1.Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return corev1.Taint{}, fmt.Errorf("--node-taint %q: want key=value:Effect", s)
	}
	k, v, _ := strings.Cut(kv, "=")
	e := corev1.TaintEffect(effect)
	switch e {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		return corev1.Taint{}, fmt.Errorf("--node-taint %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", s)
	}
	if k == "" {
		return corev1.Taint{}, fmt.Errorf("--node-taint %q: empty key", s)
	}
	return corev1.Taint{Key: k, Value: v, Effect: e}, nil
}

// defaults fills in the node name and address.
func (c *Config) defaults() error {
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return err
		}
		c.NodeName = strings.ToLower(h)
	}
	if c.NodeIP == "" {
		ip, err := hostnet.DefaultRouteIP()
		if err != nil {
			return fmt.Errorf("cannot tell the node's address (%v); pass --node-ip", err)
		}
		c.NodeIP = ip
	}
	if c.RegistryEndpoint == "" {
		c.RegistryEndpoint = c.Server
	}
	if c.ClusterCIDR == "" {
		c.ClusterCIDR = DefaultClusterCIDR
	}
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = DefaultServiceCIDR
	}
	if c.ClusterDomain == "" {
		c.ClusterDomain = DefaultClusterDomain
	}
	return nil
}
