package apiserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/apiserver/pkg/endpoints/filters"
	"k8s.io/client-go/rest"

	admissionplugins "skiff/internal/admission"
	"skiff/internal/audit"
	"skiff/internal/auth"
	"skiff/internal/encryption"
	"skiff/internal/etcdsnapshot"
	"skiff/internal/images"
	"skiff/internal/pki"
	"skiff/internal/resources"
	"skiff/internal/serverjoin"
	"skiff/internal/store"
)

// Config is what `skiff server` is told on its command line.
type Config struct {
	DataDir       string
	BindAddress   string // address to listen on; 0.0.0.0 for all
	HTTPSPort     int    // 0 picks a free port
	ServiceCIDR   string
	ClusterCIDR   string
	EtcdEndpoints []string // empty: run an embedded member in DataDir/etcd
	// PodSecurityConfig is a PodSecurityConfiguration file (defaults and exemptions
	// of Pod Security admission); empty: privileged by default, no exemptions.
	PodSecurityConfig string
	// EncryptionProviderConfig is an EncryptionConfiguration file; empty: one
	// generated under DataDir that encrypts Secrets.
	EncryptionProviderConfig string
	// SnapshotInterval is how often the embedded etcd is snapshotted (0: never) and
	// SnapshotRetention how many scheduled snapshots are kept.
	SnapshotInterval  time.Duration
	SnapshotRetention int
	// EtcdCompactionInterval is the embedded member's history (store.Member's
	// CompactionInterval).
	EtcdCompactionInterval time.Duration
	// RestoreSnapshot, when set, replaces the embedded etcd's data with the snapshot
	// before starting, as a fresh single-member cluster.
	RestoreSnapshot string
	// MemberName is this server's etcd member name (default: the host name) and
	// PeerPort the port other servers reach its etcd at, once there are several.
	MemberName string
	PeerPort   int
	// JoinServer and JoinToken (a server join token) make this server join the
	// cluster of a running one, on its first start.
	JoinServer, JoinToken string
	// Audit configures the audit log (off without a policy file and a log path).
	Audit audit.Config
	// MaxRequestsInflight and MaxMutatingRequestsInflight are kube-apiserver's
	// flags: their sum is the seats priority and fairness shares among the
	// priority levels (0: Kubernetes' defaults, 400 and 200).
	MaxRequestsInflight, MaxMutatingRequestsInflight int
}

// Server is a running API server.
type Server struct {
	API      *API
	Store    *store.Store
	CA       *pki.CA
	Addr     string // host:port clients use
	Token    string // the agents' join token
	Registry *images.Registry
	listener net.Listener
	etcd     *store.Etcd
	encrypt  *encryption.Transformers
	ready    chan struct{}
	http     *http.Server
	// plugins are the admission plugins that read the cluster through informers.
	plugins *admissionplugins.Plugins
	// startAggregator starts the APIService proxy's informers and availability loop.
	startAggregator func(ctx context.Context)
	cfg             Config
	// initialCluster is the etcd membership a joining server starts with; cluster
	// admits further servers (nil with external etcd).
	initialCluster string
	cluster        *serverjoin.Cluster
	// share keeps the encryption configuration alike on every server (nil with
	// an external etcd).
	share *encryption.Share
	// snapshots records this server's etcd snapshots for every server to list
	// (nil with an external etcd).
	snapshots *etcdsnapshot.Index
}

// Ready is closed once the server answers and the built-in objects exist.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// ClientConfig returns a loopback client for an in-process component, with its own
// client certificate (kept in DataDir/tls/<name>) so the API sees who acts.
func (s *Server) ClientConfig(name, user string, groups []string) (*rest.Config, error) {
	cert, key, err := s.CA.ClientCert(filepath.Join(s.cfg.DataDir, "tls"), name, user, groups)
	if err != nil {
		return nil, err
	}
	return &rest.Config{
		Host:            "https://" + s.Addr,
		TLSClientConfig: rest.TLSClientConfig{CAData: s.CA.CertPEM, CertData: cert, KeyData: key},
		UserAgent:       name,
	}, nil
}

// Members is the etcd membership of this server's embedded member (nil with an
// external etcd, whose members are no servers).
func (s *Server) Members() *serverjoin.Cluster { return s.cluster }

// Kubeconfig returns the path of the admin kubeconfig written at start.
func (s *Server) Kubeconfig() string { return filepath.Join(s.cfg.DataDir, "admin.kubeconfig") }

// Start brings up etcd, the store, TLS and the HTTPS listener; Serve then answers.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, ready: make(chan struct{})}
	var err error
	if err := s.join(ctx); err != nil {
		return nil, err
	}
	if s.CA, err = pki.LoadOrCreateCA(filepath.Join(cfg.DataDir, "tls")); err != nil {
		return nil, err
	}
	if s.Token, err = pki.LoadOrCreateToken(filepath.Join(cfg.DataDir, "token")); err != nil {
		return nil, err
	}
	serverSecret, err := serverjoin.EnsureToken(cfg.DataDir, s.CA.CertPEM)
	if err != nil {
		return nil, err
	}
	serviceCIDR, err := serviceRange(cfg.ServiceCIDR)
	if err != nil {
		return nil, err
	}
	alloc := &resources.Allocators{NodePorts: resources.NewPortAllocator(30000, 2768)}
	if s.listener, err = net.Listen("tcp", net.JoinHostPort(cfg.BindAddress, strconv.Itoa(cfg.HTTPSPort))); err != nil {
		return nil, fmt.Errorf("listen on %s:%d: %w (choose another --https-port, or 0 for any free port)", cfg.BindAddress, cfg.HTTPSPort, err)
	}
	port := s.listener.Addr().(*net.TCPAddr).Port
	host := cfg.BindAddress
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	s.Addr = net.JoinHostPort(host, strconv.Itoa(port))
	serving, err := s.CA.ServingCert(filepath.Join(cfg.DataDir, "tls"), "serving", servingHosts(cfg, serviceCIDR))
	if err != nil {
		return nil, err
	}
	if err := s.writeAdminKubeconfig(); err != nil {
		return nil, err
	}
	if len(cfg.EtcdEndpoints) > 0 {
		s.etcd, err = store.Connect(cfg.EtcdEndpoints)
	} else {
		s.etcd, err = s.startMember(ctx)
	}
	if err != nil {
		s.listener.Close()
		return nil, err
	}
	s.Store = store.New(s.etcd.Client, resources.Scheme)
	// Several API servers share one etcd: node ports are recorded there (cluster
	// IPs have IPAddress objects).
	alloc.NodePorts.Share(s.Store.Claims(nodePortClaims))
	if s.cluster != nil {
		s.share = &encryption.Share{Etcd: s.etcd.Client, Member: memberName(cfg), Secret: serverSecret,
			Path: encryptionConfigPath(cfg), DataDir: cfg.DataDir}
	}
	if s.encrypt, err = loadEncryption(ctx, cfg, s.share); err != nil {
		s.etcd.Close()
		s.listener.Close()
		return nil, err
	}
	s.Store.EncryptWith(s.encrypt)
	saKey, err := pki.LoadOrCreateSigningKey(filepath.Join(cfg.DataDir, "tls", "sa.key"))
	if err != nil {
		return nil, err
	}
	saTokens := &auth.ServiceAccountTokens{Key: saKey}
	// DATA_DIR/token stays valid as the server's own first join token (agents set up
	// with it keep joining; change the file and restart to rotate it); `skiff token`
	// manages bootstrap-token Secrets, which expire and can be deleted.
	bootstrapTokens := &auth.BootstrapTokens{Now: time.Now}
	// The server join token is a separate secret: an agent's token never reaches
	// the server join path, which hands out the cluster's keys.
	serverJoinToken, serverJoinPath := serverJoinAuth(serverSecret)
	authn := &auth.Authenticator{Tokens: []auth.TokenAuthenticator{auth.StaticToken{
		Token: s.Token, User: auth.User{Name: "system:bootstrap:skiff", Groups: []string{auth.Bootstrappers}}}, bootstrapTokens, saTokens, serverJoinToken}}
	bootstrappers := &auth.BootstrapAuthorizer{}
	authz := auth.Union{auth.MastersAuthorizer{}, bootstrappers, serverJoinPath}
	if s.API, err = NewAPI(s.Store, authn, authz, alloc); err != nil {
		return nil, err
	}
	// The audit log comes first: admission plugins added below are wrapped to pass
	// their audit annotations on.
	auditor, err := audit.New(cfg.Audit)
	if err != nil {
		return nil, err
	}
	if auditor != nil {
		s.API.EnableAudit(auditor)
	}
	if err := s.enableFlowControl(); err != nil {
		return nil, err
	}
	// The node authorizer and RBAC read the API's own caches, so they join the union
	// once the API exists. Nodes get nothing from RBAC beyond what every
	// authenticated user has: the node authorizer is their whole grant.
	s.API.authz = append(authz, s.API.nodeAuthorizer(), s.API.rbac)
	// Admission plugins, in order (other plugins are added here too).
	// NodeRestriction: a node writes only its own Node, Lease and pods.
	s.API.AddAdmission(nodeRestriction{})
	// RBAC escalation: roles and bindings grant only what their writer holds.
	s.API.AddAdmission(rbacEscalation{api: s.API})
	// Certificate requests: the requester is recorded; approving and signing need
	// the approve and sign verbs on the signer.
	s.API.AddAdmission(csrAdmission{api: s.API})
	s.API.saTokens = saTokens
	bootstrapTokens.Secret = s.API.kubeSystemSecret
	saTokens.Exists = s.API.serviceAccountExists
	bootstrappers.Requester = s.API.csrRequester
	s.API.caPEM = s.CA.CertPEM
	// Then LimitRanger and PodSecurity, the webhooks and admission policies, and
	// ResourceQuota last.
	if err := s.API.addPolicyAdmission(cfg); err != nil {
		return nil, err
	}
	if err := s.addAdmission(ctx); err != nil {
		return nil, err
	}
	s.API.addQuotaAdmission(ctx)
	if err := s.addAggregator(); err != nil {
		return nil, err
	}
	if len(cfg.EtcdEndpoints) == 0 {
		s.snapshots = &etcdsnapshot.Index{KV: s.etcd.Client, Server: memberName(cfg), Dir: etcdsnapshot.Dir(cfg.DataDir)}
		s.API.Extra[etcdsnapshot.Path] = etcdsnapshot.Handler(s.etcd, s.snapshots)
		s.cluster.EncryptionConfig = encryptionConfigPath(cfg)
		s.API.Extra[serverjoin.Path] = s.cluster.JoinHandler()
		s.API.Extra[serverjoin.MembersPath] = s.cluster.MembersHandler()
	}
	s.API.CAPEM, s.API.HasQuorum = s.CA.CertPEM, s.etcd.HasLeader
	s.API.Extra[auth.OpenIDConfigurationPath] = auth.OpenIDConfigurationHandler()
	s.API.Extra[auth.JWKSPath] = saTokens.JWKSHandler()
	kcert, kkey, err := s.CA.ClientCert(filepath.Join(cfg.DataDir, "tls"), "apiserver-kubelet-client", "skiff-apiserver", []string{auth.Masters})
	if err != nil {
		return nil, err
	}
	kpair, err := tls.X509KeyPair(kcert, kkey)
	if err != nil {
		return nil, err
	}
	proxy := newNodeProxy(s.API, kpair, &tls.Config{RootCAs: s.CA.Pool(), MinVersion: tls.VersionTLS12})
	s.API.NodeProxy, s.API.Stats = proxy.serve, newStatsCache(proxy)
	if s.Registry, err = images.NewRegistry(filepath.Join(cfg.DataDir, "registry")); err != nil {
		return nil, fmt.Errorf("image registry: %w", err)
	}
	s.API.Registry = s.Registry.Handler()
	if err := s.ensureBuiltinImages(); err != nil {
		slog.Warn("built-in images are not available; pods using skiff.local/pause and skiff.local/toolbox will not start", "err", err)
	}
	s.http = &http.Server{
		// Admission plugins add warnings through the request's context; they reach
		// the client as Warning headers.
		Handler:           filters.WithWarningRecorder(s.API),
		ReadHeaderTimeout: 30 * time.Second,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{serving},
			ClientAuth:   tls.VerifyClientCertIfGiven,
			ClientCAs:    s.CA.Pool(),
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"h2", "http/1.1"},
		},
	}
	return s, nil
}

// startEmbedded runs the embedded etcd member, first restoring a snapshot into it
// when asked to.
func startEmbedded(ctx context.Context, cfg Config, m store.Member) (*store.Etcd, error) {
	dir := etcdDir(cfg)
	if cfg.RestoreSnapshot != "" {
		aside, err := store.Restore(cfg.RestoreSnapshot, dir, m.Name)
		if err != nil {
			return nil, err
		}
		// A restored member is alone again: its peers, if any, are not restored.
		if err := os.Remove(filepath.Join(dir, peersMarker)); err != nil && !os.IsNotExist(err) {
			return nil, err
		}
		slog.Warn("etcd restored from a snapshot as a new single-member cluster; start without --cluster-reset --restore from now on",
			"snapshot", cfg.RestoreSnapshot, "previous data", aside)
	}
	m.CompactionInterval = cfg.EtcdCompactionInterval
	return store.StartMember(ctx, dir, m)
}

// Run serves until ctx ends, then shuts down: HTTP first, then etcd.
func (s *Server) Run(ctx context.Context) error {
	go s.Store.Run(ctx)
	select {
	case <-s.Store.Ready():
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := s.API.admit.loadAllocations(ctx); err != nil {
		return err
	}
	if err := s.API.startPodIndex(ctx); err != nil {
		return fmt.Errorf("node authorizer: %w", err)
	}
	go s.encrypt.Run(ctx, s.Store.RewriteStale)
	if s.share != nil {
		go s.share.Run(ctx)
	}
	go s.repairAllocations(ctx, s.API.admit.alloc)
	if s.cluster != nil {
		go s.cluster.Promote(ctx, 2*time.Second)
	}
	if s.snapshots != nil {
		go s.snapshots.Run(ctx, time.Minute)
		if s.cfg.SnapshotInterval > 0 {
			go etcdsnapshot.Schedule(ctx, s.etcd, s.snapshots, s.cfg.SnapshotInterval, s.cfg.SnapshotRetention)
		}
	}
	port := s.listener.Addr().(*net.TCPAddr)
	if err := s.API.bootstrap(ctx, s.cfg, port); err != nil {
		return fmt.Errorf("create built-in objects: %w", err)
	}
	if ip, err := netip.ParseAddr(advertiseAddress(s.cfg.BindAddress)); err == nil {
		live := &liveEndpoints{s: s, self: netip.AddrPortFrom(ip, uint16(port.Port))}
		if err := live.step(ctx); err != nil {
			return fmt.Errorf("publish the kubernetes service's endpoints: %w", err)
		}
		go live.run(ctx)
	} else {
		slog.Warn("the API server listens on loopback only; pods cannot reach it through the kubernetes Service (use --bind-address 0.0.0.0)")
	}
	go s.API.runCRDs(ctx)
	go s.API.runMigrations(ctx)
	s.API.ready.Store(true)
	close(s.ready)
	slog.Info("API server ready", "address", "https://"+s.Addr, "kubeconfig", s.Kubeconfig())
	errc := make(chan error, 1)
	go func() { errc <- s.http.ServeTLS(s.listener, "", "") }()
	s.plugins.Start(ctx)
	s.startAggregator(ctx)
	go s.API.flow.run(ctx)
	select {
	case err := <-errc:
		s.etcd.Close()
		return err
	case <-s.etcd.Stopped():
		slog.Error("the server stops because its embedded etcd stopped", "err", store.ErrStopped)
		s.http.Close()
		s.etcd.Close()
		return store.ErrStopped
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(shutdown)
	s.etcd.Close()
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// loadEncryption reads the encryption configuration, first writing the default
// one (Secrets under AES-GCM with a new key) when none is given or exists yet.
// With share, the file is first made the cluster's configuration, and what this
// server applies is recorded for the cluster.
func loadEncryption(ctx context.Context, cfg Config, share *encryption.Share) (*encryption.Transformers, error) {
	path := encryptionConfigPath(cfg)
	if cfg.EncryptionProviderConfig == "" {
		if err := encryption.EnsureDefault(path); err != nil {
			return nil, fmt.Errorf("encryption at rest: %w", err)
		}
	}
	if share != nil {
		if err := share.Pull(ctx); err != nil {
			slog.Warn("encryption: could not compare the configuration with the cluster's; using this server's until it can", "err", err)
		}
	}
	t, err := encryption.Load(ctx, path, cfg.DataDir)
	if err != nil || share == nil {
		return t, err
	}
	t.Applied = share.MemberApplied
	return t, nil
}

// encryptionConfigPath is the encryption configuration the server loads.
func encryptionConfigPath(cfg Config) string {
	if cfg.EncryptionProviderConfig != "" {
		return cfg.EncryptionProviderConfig
	}
	return encryption.DefaultConfigPath(cfg.DataDir)
}

// addAdmission registers the webhook and policy plugins in Kubernetes' order:
// MutatingAdmissionPolicy, MutatingAdmissionWebhook, ValidatingAdmissionPolicy,
// ValidatingAdmissionWebhook.
// The server's own writes skip them.
func (s *Server) addAdmission(ctx context.Context) error {
	cfg, err := s.ClientConfig("skiff-admission", "system:apiserver", []string{auth.Masters})
	if err != nil {
		return err
	}
	if s.plugins, err = admissionplugins.New(ctx, cfg, admissionplugins.Authorizer(s.API.authz)); err != nil {
		return err
	}
	s.API.AddAdmission(admissionplugins.ExemptServerWrites(s.plugins.MutatingPolicy))
	// The VPA's admission step runs where upstream's webhook would.
	s.API.AddAdmission(vpaAdmission{api: s.API})
	s.API.AddAdmission(admissionplugins.ExemptServerWrites(s.plugins.Mutating))
	s.API.AddAdmission(admissionplugins.ExemptServerWrites(s.plugins.Policy))
	s.API.AddAdmission(admissionplugins.ExemptServerWrites(s.plugins.Validating))
	return nil
}

// ensureBuiltinImages pushes skiff.local/pause and skiff.local/toolbox, built from the
// binaries next to skiff (make build puts them there).
func (s *Server) ensureBuiltinImages() error {
	dir, err := images.FindBinDir()
	if err != nil {
		return err
	}
	return s.Registry.EnsureBuiltins(dir)
}

func servingHosts(cfg Config, serviceCIDR netip.Prefix) []string {
	hosts := []string{"127.0.0.1", "localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc.cluster.local", resources.NthAddr(serviceCIDR, 1).String()}
	if cfg.BindAddress != "" && cfg.BindAddress != "0.0.0.0" && cfg.BindAddress != "::" {
		hosts = append(hosts, cfg.BindAddress)
	}
	if h, err := os.Hostname(); err == nil {
		hosts = append(hosts, strings.ToLower(h))
	}
	if addrs, err := net.InterfaceAddrs(); err == nil && (cfg.BindAddress == "" || cfg.BindAddress == "0.0.0.0") {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
				hosts = append(hosts, ipn.IP.String())
			}
		}
	}
	return hosts
}

func (s *Server) writeAdminKubeconfig() error {
	dir := filepath.Join(s.cfg.DataDir, "tls")
	cert, key, err := s.CA.ClientCert(dir, "admin", "admin", []string{auth.Masters})
	if err != nil {
		return err
	}
	kc, err := pki.Kubeconfig("https://"+s.Addr, s.CA.CertPEM, "admin", cert, key, "")
	if err != nil {
		return err
	}
	return os.WriteFile(s.Kubeconfig(), kc, 0o600)
}

// Version is the Kubernetes version served: that of the k8s.io/api module built in.
func Version() version.Info {
	v := "v1.37.0"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "k8s.io/api" && strings.HasPrefix(d.Version, "v0.") {
				v = "v1." + strings.TrimPrefix(d.Version, "v0.")
			}
		}
	}
	major, minor := "1", strings.Split(strings.TrimPrefix(v, "v1."), ".")[0]
	return version.Info{Major: major, Minor: minor, GitVersion: v + "+skiff", Platform: "linux/amd64", GoVersion: goVersion()}
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return ""
}

func serveVersion(w http.ResponseWriter) { writeJSON(w, Version()) }

func (a *API) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/readyz" && !a.ready.Load() {
		http.Error(w, "[-]store not ready", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok"))
}
