package simulate

import (
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// Options shape one group of simulated nodes.
type Options struct {
	Kubeconfig string
	Nodes      int
	NamePrefix string
	CPU        resource.Quantity
	Memory     resource.Quantity
	Pods       resource.Quantity
	Storage    resource.Quantity
	// Extended resources, such as nvidia.com/gpu=4.
	Extended map[v1.ResourceName]resource.Quantity
	Labels   map[string]string
	Taints   []v1.Taint
	// FailNodes are registered but never heartbeat, as if they died at once.
	FailNodes map[string]bool
	// HeartbeatInterval is how often each node renews its Lease (kubelet: 10s).
	HeartbeatInterval time.Duration
	// Workers bounds concurrent API calls for registering nodes and pod updates.
	Workers int
	// Bare nodes are registered and then left alone: no heartbeats, and pods bound
	// to them are never marked Running. These are the nodes of kube-scheduler's
	// scheduler_perf, which measure the scheduler without any kubelet's writes.
	Bare bool
	// VolumeDir holds the simulated nodes' local-path volumes, <dir>/<node>/pvc-*;
	// a directory under the system's temporary directory if empty.
	VolumeDir string
	// PodCIDR is carved into one /24 per node for pod IPs; node groups that run at
	// the same time need distinct ranges.
	PodCIDR *net.IPNet
}

// ParseFlags reads the `skiff simulate` flags.
func ParseFlags(args []string) (Options, error) {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := Options{}
	var cpu, mem, pods, storage, extended, labels, taints, fail, cidr string
	fs.StringVar(&o.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to join (required)")
	fs.IntVar(&o.Nodes, "nodes", 1, "how many nodes to simulate")
	fs.StringVar(&o.NamePrefix, "name-prefix", "sim-", "node names are <prefix><index>")
	fs.StringVar(&cpu, "cpu", "32", "cpu capacity of each node")
	fs.StringVar(&mem, "memory", "256Gi", "memory capacity of each node")
	fs.StringVar(&pods, "pods", "110", "pod capacity of each node")
	fs.StringVar(&storage, "ephemeral-storage", "100Gi", "ephemeral-storage capacity of each node")
	fs.StringVar(&extended, "extended-resources", "", "extended resources, e.g. nvidia.com/gpu=4")
	fs.StringVar(&labels, "labels", "", "extra node labels, k=v,...")
	fs.StringVar(&taints, "taints", "", "node taints, k=v:Effect,...")
	fs.StringVar(&fail, "fail-node", "", "comma-separated node names that never heartbeat")
	fs.DurationVar(&o.HeartbeatInterval, "heartbeat-interval", 10*time.Second, "lease renewal period")
	fs.BoolVar(&o.Bare, "bare", false, "register the nodes only: no heartbeats, pods are never marked Running")
	fs.IntVar(&o.Workers, "workers", 32, "concurrent API calls")
	fs.StringVar(&o.VolumeDir, "volume-dir", "", "where the nodes' local-path volumes go (default: under the temporary directory)")
	fs.StringVar(&cidr, "pod-cidr", "10.64.0.0/10", "pod IPs, a /24 per node (use distinct ranges for groups run together)")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w\nflags:\n%s", err, flagUsage(fs))
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	for _, q := range []struct {
		s   string
		dst *resource.Quantity
	}{{cpu, &o.CPU}, {mem, &o.Memory}, {pods, &o.Pods}, {storage, &o.Storage}} {
		if *q.dst, err = resource.ParseQuantity(q.s); err != nil {
			return o, fmt.Errorf("quantity %q: %w", q.s, err)
		}
	}
	if o.Extended, err = parseExtended(extended); err != nil {
		return o, err
	}
	if o.Labels, err = parseLabels(labels); err != nil {
		return o, err
	}
	if o.Taints, err = parseTaints(taints); err != nil {
		return o, err
	}
	if _, o.PodCIDR, err = net.ParseCIDR(cidr); err != nil || o.PodCIDR.IP.To4() == nil {
		return o, fmt.Errorf("--pod-cidr %q: want an IPv4 CIDR", cidr)
	}
	o.FailNodes = map[string]bool{}
	for _, n := range splitList(fail) {
		o.FailNodes[n] = true
	}
	return o, o.validate()
}

func (o *Options) validate() error {
	if o.Nodes < 0 {
		return fmt.Errorf("--nodes must not be negative")
	}
	if o.HeartbeatInterval <= 0 {
		return fmt.Errorf("--heartbeat-interval must be positive")
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.PodCIDR == nil {
		_, o.PodCIDR, _ = net.ParseCIDR("10.64.0.0/10")
	}
	if ones, _ := o.PodCIDR.Mask.Size(); o.Nodes > 1<<(24-min(ones, 24)) {
		return fmt.Errorf("--pod-cidr %s has room for fewer than %d /24 subnets", o.PodCIDR, o.Nodes)
	}
	return nil
}

func flagUsage(fs *flag.FlagSet) string {
	var b strings.Builder
	fs.VisitAll(func(f *flag.Flag) { fmt.Fprintf(&b, "  --%s (default %q): %s\n", f.Name, f.DefValue, f.Usage) })
	return b.String()
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseLabels(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range splitList(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

func parseExtended(s string) (map[v1.ResourceName]resource.Quantity, error) {
	out := map[v1.ResourceName]resource.Quantity{}
	for _, kv := range splitList(s) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || !strings.Contains(k, "/") {
			return nil, fmt.Errorf("extended resource %q: want domain/name=quantity", kv)
		}
		q, err := resource.ParseQuantity(v)
		if err != nil {
			return nil, fmt.Errorf("extended resource %q: %w", kv, err)
		}
		out[v1.ResourceName(k)] = q
	}
	return out, nil
}

// parseTaints reads key[=value]:Effect entries.
func parseTaints(s string) ([]v1.Taint, error) {
	var out []v1.Taint
	for _, t := range splitList(s) {
		kv, effect, ok := strings.Cut(t, ":")
		if !ok {
			return nil, fmt.Errorf("taint %q: want key=value:Effect", t)
		}
		e := v1.TaintEffect(effect)
		if e != v1.TaintEffectNoSchedule && e != v1.TaintEffectPreferNoSchedule && e != v1.TaintEffectNoExecute {
			return nil, fmt.Errorf("taint %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", t)
		}
		k, v, _ := strings.Cut(kv, "=")
		if k == "" {
			return nil, fmt.Errorf("taint %q: empty key", t)
		}
		out = append(out, v1.Taint{Key: k, Value: v, Effect: e})
	}
	return out, nil
}
