package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"skiff/internal/agent"
	"skiff/internal/apiserver"
	"skiff/internal/kubelet"
	"skiff/internal/memtune"
	"skiff/internal/server"
	"skiff/internal/simulate"
)

func runServer(ctx context.Context, args []string) error {
	if len(args) > 0 && (args[0] == "list" || args[0] == "remove") {
		return runServers(ctx, os.Stdout, args)
	}
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	var cfg server.Config
	var etcd string
	fs.StringVar(&cfg.DataDir, "data-dir", "/var/lib/skiff", "where the cluster keeps its state")
	fs.StringVar(&cfg.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	fs.IntVar(&cfg.HTTPSPort, "https-port", 6443, "API server port (0 picks a free one)")
	fs.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.43.0.0/16", "range for Service cluster IPs")
	fs.StringVar(&cfg.ClusterCIDR, "cluster-cidr", agent.DefaultClusterCIDR, "range for pod IPs; each node gets a /24")
	fs.StringVar(&cfg.PodSecurityConfig, "pod-security-config", "", "PodSecurityConfiguration file: Pod Security admission defaults and exemptions (default: privileged, no exemptions)")
	fs.StringVar(&cfg.EncryptionProviderConfig, "encryption-provider-config", "", "EncryptionConfiguration file (apiserver.config.k8s.io/v1) for encryption at rest; reread while running (default: DATA-DIR/encryption/config.yaml, generated to encrypt Secrets with AES-GCM)")
	fs.StringVar(&cfg.Audit.PolicyFile, "audit-policy-file", "", "audit.k8s.io/v1 Policy file: what the audit log records (with --audit-log-path)")
	fs.StringVar(&cfg.Audit.LogPath, "audit-log-path", "", "file the audit log is written to as JSON lines, - for standard output (with --audit-policy-file)")
	fs.IntVar(&cfg.Audit.MaxAge, "audit-log-maxage", 0, "days to keep rotated audit log files (0: no limit)")
	fs.IntVar(&cfg.Audit.MaxBackups, "audit-log-maxbackup", 0, "rotated audit log files to keep (0: no limit)")
	fs.IntVar(&cfg.Audit.MaxSize, "audit-log-maxsize", 0, "megabytes an audit log file grows to before it is rotated (0: 100)")
	fs.IntVar(&cfg.MaxRequestsInflight, "max-requests-inflight", apiserver.DefaultMaxRequestsInflight, "with --max-mutating-requests-inflight, the requests the API server executes at once, shared by priority and fairness' priority levels")
	fs.IntVar(&cfg.MaxMutatingRequestsInflight, "max-mutating-requests-inflight", apiserver.DefaultMaxMutatingRequestsInflight, "added to --max-requests-inflight for the server's concurrency limit")
	fs.StringVar(&etcd, "etcd-endpoints", "", "comma-separated URLs of an external etcd cluster (default: embedded etcd in the data dir)")
	fs.BoolVar(&cfg.DisableAgent, "disable-agent", false, "run the control plane only, without a node on this machine")
	fs.BoolVar(&cfg.DisableScheduler, "disable-scheduler", false, "do not run the scheduler")
	fs.BoolVar(&cfg.DisableControllers, "disable-controllers", false, "do not run the controller manager")
	fs.StringVar(&cfg.SchedulerConfig, "scheduler-config", "", "scheduler configuration file (profile, plugin weights)")
	fs.StringVar(&cfg.LBPool, "lb-pool", "", "addresses for LoadBalancer services: a range a.b.c.d-a.b.c.e or a CIDR (default: node addresses)")
	fs.StringVar(&cfg.Agent.NodeName, "node-name", "", "name of this machine's node (default: host name)")
	fs.StringVar(&cfg.Agent.NodeIP, "node-ip", "", "address of this machine's node")
	fs.IntVar(&cfg.Agent.KubeletPort, "kubelet-port", 10250, "the local node's HTTPS port for logs and exec (0 picks a free one)")
	fs.IntVar(&cfg.Agent.DNSPort, "dns-port", 53, "port of the local node's DNS server on the node address (0 picks one)")
	fs.IntVar(&cfg.Agent.IngressHTTPPort, "ingress-http-port", 80, "ingress HTTP port on every node address (0 disables)")
	fs.IntVar(&cfg.Agent.IngressHTTPSPort, "ingress-https-port", 443, "ingress HTTPS port on every node address (0 disables)")
	fs.StringVar(&cfg.Agent.EvictionHard, "eviction-hard", kubelet.DefaultEvictionHard, "the local node's hard eviction thresholds, signal<quantity or signal<percent%, comma-separated (as skiff agent takes them)")
	fs.StringVar(&cfg.Agent.ContainerRuntimeEndpoint, "container-runtime-endpoint", "", "existing CRI socket (default: skiff runs containerd)")
	fs.Func("registry-mirror", "registry name to pull from the cluster registry (repeatable)", func(s string) error {
		cfg.Agent.RegistryMirrors = append(cfg.Agent.RegistryMirrors, strings.Split(s, ",")...)
		return nil
	})
	fs.DurationVar(&cfg.SnapshotInterval, "etcd-snapshot-interval", 12*time.Hour, "how often the embedded etcd is snapshotted into DATA-DIR/snapshots (0 disables)")
	fs.IntVar(&cfg.SnapshotRetention, "etcd-snapshot-retention", 5, "how many scheduled snapshots are kept")
	fs.DurationVar(&cfg.EtcdCompactionInterval, "etcd-compaction-interval", 5*time.Minute,
		"how often the embedded etcd compacts the revisions older than this interval (the history watches and paging can resume from; a shorter one keeps the database smaller under many writes)")
	fs.DurationVar(&cfg.VPARecommenderInterval, "vpa-recommender-interval", time.Minute, "how often the vertical pod autoscaler's recommender and updater run")
	fs.StringVar(&cfg.JoinServer, "server", "", "join the control plane of this running server (https://HOST:PORT), with --token")
	fs.StringVar(&cfg.JoinToken, "token", "", "with --server: the server join token (the first server's <data-dir>/server-join-token; an agent token is refused)")
	fs.IntVar(&cfg.PeerPort, "etcd-peer-port", 2380, "port other servers reach this server's etcd at (mutual TLS; opened only once a second server joins)")
	clusterReset := fs.Bool("cluster-reset", false, "start the embedded etcd as a new single-member cluster (with --restore)")
	fs.StringVar(&cfg.RestoreSnapshot, "restore", "", "with --cluster-reset: replace the embedded etcd's data with this snapshot first (the old data is moved aside)")
	var prof profiling
	prof.register(fs)
	_ = fs.Parse(args)
	if cfg.RestoreSnapshot != "" && (!*clusterReset || etcd != "") {
		return fmt.Errorf("--restore replaces the embedded etcd's data: it needs --cluster-reset, and no --etcd-endpoints")
	}
	if _, err := kubelet.ParseEvictionHard(cfg.Agent.EvictionHard); err != nil {
		return fmt.Errorf("--eviction-hard: %w", err)
	}
	memtune.Start(ctx)
	stop, err := prof.start()
	if err != nil {
		return err
	}
	defer stop()
	if etcd != "" {
		cfg.EtcdEndpoints = strings.Split(etcd, ",")
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.DataDir = abs
	cfg.MemberName = cfg.Agent.NodeName
	if (cfg.JoinServer == "") != (cfg.JoinToken == "") {
		return fmt.Errorf("--server and --token go together: a server joins another with its server join token")
	}
	return server.Run(ctx, cfg)
}

// runAgent runs a node, or with "reset" removes everything a node left behind
// (pods, containerd state, network, cgroups).
func runAgent(ctx context.Context, args []string) error {
	reset := len(args) > 0 && args[0] == "reset"
	if reset {
		args = args[1:]
	}
	cfg, err := agent.ParseFlags(args)
	if err != nil {
		return err
	}
	if reset {
		return agent.Reset(ctx, cfg)
	}
	memtune.Start(ctx)
	return agent.Run(ctx, cfg, nil)
}

func runSimulate(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "plan" {
		return simulate.Plan(ctx, os.Stdout, args[1:])
	}
	opts, err := simulate.ParseFlags(args)
	if err != nil {
		return err
	}
	if opts.Kubeconfig == "" {
		opts.Kubeconfig = defaultKubeconfig()
	}
	rc, err := clientcmd.BuildConfigFromFlags("", opts.Kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", opts.Kubeconfig, err)
	}
	return simulate.Run(ctx, rc, opts)
}
