package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/csi"
	"skiff/internal/images"
	"skiff/internal/kubelet"
	"skiff/internal/kubelet/containerd"
	"skiff/internal/kubelet/cri"
	"skiff/internal/localpath"
	"skiff/internal/serverlb"
)

// SandboxImage is the pause image of every pod, built into the cluster registry.
const SandboxImage = "skiff.local/pause:1"

// Run runs the node until ctx ends. With rc nil it joins with cfg.Token (or reuses an
// earlier join's credentials in the data dir); with rc it uses rc and
// cfg.CAPEM/cfg.ServingCert (the server's own node). Pods keep running after Run
// returns; only the agent and its containerd stop.
func Run(ctx context.Context, cfg Config, rc *rest.Config) error {
	if err := cfg.defaults(); err != nil {
		return err
	}
	if err := CheckPrerequisites(cfg); err != nil {
		return err
	}
	creds, rc, err := credentialsFor(ctx, &cfg, rc)
	if err != nil {
		return err
	}
	caFile := filepath.Join(pkiDir(cfg.DataDir), "ca.crt")
	if err := os.MkdirAll(filepath.Dir(caFile), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(caFile, creds.CAPEM, 0o644); err != nil {
		return err
	}
	// reset finds the node's cgroups, tables and pods by its name.
	if err := os.WriteFile(filepath.Join(cfg.DataDir, nodeNameFile), []byte(cfg.NodeName+"\n"), 0o644); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(creds.CAPEM) {
		return errors.New("cluster CA certificate is not valid PEM")
	}
	endpoint := cfg.ContainerRuntimeEndpoint
	var supervisor *containerd.Supervisor
	if endpoint == "" {
		supervisor, err = containerd.Supervise(ctx, containerdOptions(cfg, caFile))
		if err != nil {
			return err
		}
		defer supervisor.Stop()
		endpoint = containerdOptions(cfg, caFile).Socket()
	}
	rt, version, err := cri.Dial(ctx, endpoint, 30*time.Second)
	if err != nil {
		return err
	}
	defer rt.Close()
	if cfg.ContainerRuntimeEndpoint == "" { // our containerd pulls only from the cluster registry
		if rt.BeforePull, err = images.PullCheck(strings.TrimSuffix(cfg.RegistryEndpoint, "/"), &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}); err != nil {
			return err
		}
	}
	client, events, err := nodeClients(rc)
	if err != nil {
		return err
	}
	podDNS, proxyDone, err := nodeServices(ctx, cfg, client)
	if err != nil {
		return err
	}
	defer func() { <-proxyDone }()
	evictionHard := cfg.EvictionHard
	if evictionHard == "" {
		evictionHard = kubelet.DefaultEvictionHard
	}
	thresholds, err := kubelet.ParseEvictionHard(evictionHard)
	if err != nil {
		return fmt.Errorf("eviction thresholds: %w", err)
	}
	rootDir := filepath.Join(cfg.DataDir, "kubelet")
	csiNode := csi.NewNode(rootDir, cfg.NodeName, client)
	if err := csiNode.UseSnapshots(rc); err != nil {
		return err
	}
	k, err := kubelet.New(kubelet.Config{
		EvictionHard: thresholds, EvictionPressureTransition: cfg.EvictionPressureTransition,
		DNS: podDNS, ClusterDomain: cfg.ClusterDomain,
		NodeName: cfg.NodeName, NodeIPs: []string{cfg.NodeIP}, Client: client, EventClient: events, Runtime: rt,
		RuntimeVersion: version.RuntimeName + "://" + version.RuntimeVersion, Version: kubeletVersion(),
		RootDir: rootDir, CSI: csiNode, CgroupPrefix: CgroupPrefix(cfg.NodeName),
		ClusterCIDR: cfg.ClusterCIDR, CNIConfDir: cniConfDir(cfg),
		ManageNetwork: cfg.ContainerRuntimeEndpoint == "",
		Port:          cfg.KubeletPort, ServingCert: creds.Serving, ClientCAs: pool,
		Labels: cfg.Labels, Taints: cfg.Taints, ControlPlane: cfg.ControlPlane,
	})
	if err != nil {
		return err
	}
	if supervisor != nil {
		supervisor.OnExit(k.CheckRuntimeNow)
	}
	slog.Info("agent starting", "node", cfg.NodeName, "ip", cfg.NodeIP, "runtime", endpoint)
	go localpath.Start(ctx, client, localpath.OneNode(cfg.NodeName, LocalPathDir(cfg.DataDir)))
	go csiNode.Start(ctx)
	return k.Run(ctx)
}

// failoverConfig is the node's API client configuration through a local load
// balancer that knows every API server (from the kubernetes Service's endpoints)
// and moves to another when one stops answering.
func failoverConfig(ctx context.Context, server, dir string, caPEM []byte) (*rest.Config, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("--server %q: want https://HOST:PORT", server)
	}
	lb, err := serverlb.Start(ctx, u.Host)
	if err != nil {
		return nil, err
	}
	rc := restConfig("https://"+lb.Addr(), dir, caPEM)
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	go lb.Follow(ctx, client, 10*time.Second)
	return rc, nil
}

// The node's API requests grow with the pods it starts at once: each costs a
// token, a status or two and three events. client-go's default limit (5/s), which
// the server's own node had, made 50 pods take half a minute to be reported
// Running; events get a limit of their own, as the kubelet's do, so they never
// hold up a status.
const (
	nodeQPS, nodeBurst   = 100, 200
	eventQPS, eventBurst = 50, 100
)

// nodeClients returns the kubelet's API client and its events client.
func nodeClients(rc *rest.Config) (client, events kubernetes.Interface, err error) {
	c := rest.CopyConfig(rc)
	c.QPS, c.Burst = nodeQPS, nodeBurst
	if client, err = kubernetes.NewForConfig(c); err != nil {
		return nil, nil, err
	}
	e := rest.CopyConfig(rc)
	e.QPS, e.Burst = eventQPS, eventBurst
	events, err = kubernetes.NewForConfig(e)
	return client, events, err
}

// credentialsFor returns the node's credentials and API client config.
func credentialsFor(ctx context.Context, cfg *Config, rc *rest.Config) (*credentials, *rest.Config, error) {
	if rc == nil {
		if cfg.Server == "" {
			return nil, nil, errors.New("agent needs --server")
		}
		c, err := loadOrJoin(ctx, *cfg)
		if err != nil {
			return nil, nil, err
		}
		dir := pkiDir(cfg.DataDir)
		rc, err := failoverConfig(ctx, cfg.Server, dir, c.CAPEM)
		if err != nil {
			return nil, nil, err
		}
		// Certificate renewal goes through the load balancer too.
		go rotateClient(ctx, rc.Host, dir, cfg.NodeName, c.CAPEM)
		return c, rc, nil
	}
	if len(cfg.CAPEM) == 0 || cfg.ServingCert == nil {
		return nil, nil, errors.New("an agent given a rest.Config also needs CAPEM and ServingCert")
	}
	if cfg.RegistryEndpoint == "" {
		cfg.RegistryEndpoint = rc.Host
	}
	return &credentials{CAPEM: cfg.CAPEM, Serving: *cfg.ServingCert}, rc, nil
}

// LocalPathDir is where the node keeps its local-path volumes, one directory each.
func LocalPathDir(dataDir string) string { return filepath.Join(dataDir, "local-path") }

// CgroupPrefix is the node's cgroup, under which every pod cgroup goes.
func CgroupPrefix(node string) string { return "/skiff-" + node }

func cniConfDir(cfg Config) string { return filepath.Join(cfg.DataDir, "cni", "net.d") }

func containerdOptions(cfg Config, caFile string) containerd.Options {
	mirrors := append([]string{"skiff.local", "*"}, cfg.RegistryMirrors...)
	return containerd.Options{
		Dir: filepath.Join(cfg.DataDir, "containerd"), SandboxImage: SandboxImage,
		CNIBinDir: CNIBinDir, CNIConfDir: cniConfDir(cfg),
		RegistryEndpoint: strings.TrimSuffix(cfg.RegistryEndpoint, "/"), RegistryCAFile: caFile,
		Mirrors: slices.Compact(mirrors),
	}
}

// kubeletVersion is the Kubernetes version of the k8s.io/api module built in, as the
// API server reports it.
func kubeletVersion() string {
	v := "v1.37.0"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/api" && strings.HasPrefix(d.Version, "v0.") {
				v = "v1." + strings.TrimPrefix(d.Version, "v0.")
			}
		}
	}
	return fmt.Sprintf("%s+skiff", v)
}
