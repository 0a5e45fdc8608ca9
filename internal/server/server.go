// Package server composes `skiff server`: the API server, the controller manager, the
// scheduler and, unless disabled, a node agent for the machine it runs on. Every
// component reaches the API server through client-go, as it would in its own process.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/agent"
	"skiff/internal/apiserver"
	"skiff/internal/auth"
	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/cronjob"
	"skiff/internal/controllers/csrsigning"
	"skiff/internal/controllers/daemonset"
	"skiff/internal/controllers/deployment"
	"skiff/internal/controllers/etcdmember"
	"skiff/internal/controllers/job"
	"skiff/internal/controllers/manager"
	"skiff/internal/controllers/nodeipam"
	"skiff/internal/controllers/replicaset"
	"skiff/internal/controllers/servicelb"
	"skiff/internal/controllers/statefulset"
	"skiff/internal/leader"
	"skiff/internal/memtune"
	"skiff/internal/scheduler"
)

// Config is `skiff server`'s command line.
type Config struct {
	apiserver.Config
	DisableAgent       bool
	DisableScheduler   bool
	DisableControllers bool
	SchedulerConfig    string
	LBPool             string
	Agent              agent.Config
	// VPARecommenderInterval is how often the VPA recommender runs.
	VPARecommenderInterval time.Duration
}

// Run serves until ctx ends.
func Run(ctx context.Context, cfg Config) error {
	srv, err := apiserver.Start(ctx, cfg.Config)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return srv.Run(ctx) })
	select {
	case <-srv.Ready():
	case <-ctx.Done():
		return g.Wait()
	}
	// Starting built the built-in images and loaded every resource: garbage
	// that is no use once the server is ready.
	memtune.Release()
	var shared informers.SharedInformerFactory
	if !cfg.DisableControllers && !cfg.DisableScheduler {
		if shared, err = sharedInformers(ctx, srv); err != nil {
			return err
		}
	}
	if !cfg.DisableControllers {
		rc, err := srv.ClientConfig("controller-manager", "system:kube-controller-manager", []string{auth.Masters})
		if err != nil {
			return err
		}
		cons, err := constructors(rc, srv.CA.CertPEM, cfg)
		if err != nil {
			return err
		}
		// The signer needs the CA's key, which only the server holds.
		cons["csrsigning"] = func(c *controller.Context) manager.Runner { return csrsigning.New(c, srv.CA, cfg.ServiceCIDR) }
		// Deleting a server's Node removes its etcd member, which only a server can reach.
		if m := srv.Members(); m != nil {
			cons["etcdmember"] = func(c *controller.Context) manager.Runner { return etcdmember.New(c, m) }
		}
		g.Go(func() error {
			return standAgain(ctx, "controller manager", func() error {
				return manager.Run(ctx, rc, manager.Options{LeaderElect: true, Constructors: cons, Informers: shared})
			})
		})
	}
	if !cfg.DisableScheduler {
		rc, err := srv.ClientConfig("scheduler", "system:kube-scheduler", []string{auth.Masters})
		if err != nil {
			return err
		}
		// Under the same Lease as `skiff scheduler`, so one of several servers schedules.
		opts := SchedulerOptions{ConfigPath: cfg.SchedulerConfig, LeaderElect: true, Metrics: srv.API.MetricsRegistry(), Informers: shared}
		g.Go(func() error { return standAgain(ctx, "scheduler", func() error { return RunScheduler(ctx, rc, opts) }) })
	}
	if !cfg.DisableAgent {
		g.Go(func() error { return runLocalAgent(ctx, srv, cfg) })
	}
	return g.Wait()
}

// sharedInformers is the informer factory the scheduler and the controller
// manager share inside the server; it reads as the controller manager, whose
// rights cover the scheduler's.
func sharedInformers(ctx context.Context, srv *apiserver.Server) (informers.SharedInformerFactory, error) {
	rc, err := srv.ClientConfig("controller-manager", "system:kube-controller-manager", []string{auth.Masters})
	if err != nil {
		return nil, err
	}
	rc = manager.ClientConfig(rc)
	rc.UserAgent = "skiff-shared-informers"
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, err
	}
	return controller.Shared(client, manager.DefaultResync, ctx.Done()), nil
}

// standAgain runs a leader-elected component again, from scratch, after it lost
// its Lease (etcd without quorum for a while, a partition). A separate process
// would exit and be restarted; inside the server, exiting would take the API
// server down with it.
func standAgain(ctx context.Context, name string, run func() error) error {
	for {
		err := run()
		if ctx.Err() != nil || !errors.Is(err, leader.ErrLostLease) {
			return err
		}
		slog.Warn(name+" lost its Lease; standing for election again with fresh caches", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
}

// constructors are every controller the manager runs, by name.
func constructors(rc *rest.Config, ca []byte, cfg Config) (map[string]manager.Constructor, error) {
	cons, err := manager.Platform(rc, manager.PlatformOptions{RootCA: ca, VPAInterval: cfg.VPARecommenderInterval})
	if err != nil {
		return nil, err
	}
	simple := map[string]func(*controller.Context) *controller.Controller{
		"replicaset":            replicaset.New,
		"replicationcontroller": replicaset.NewReplicationController,
		"deployment":            deployment.New,
		"statefulset":           statefulset.New,
		"daemonset":             daemonset.New,
		"job":                   job.New,
		"cronjob":               cronjob.New,
		"nodeipam":              func(c *controller.Context) *controller.Controller { return nodeipam.New(c, cfg.ClusterCIDR) },
	}
	for name, newFn := range simple {
		cons[name] = func(c *controller.Context) manager.Runner { return newFn(c) }
	}
	cons["servicelb"] = func(c *controller.Context) manager.Runner {
		ctl, err := servicelb.New(c, cfg.LBPool)
		if err != nil {
			slog.Error("service load balancer disabled", "pool", cfg.LBPool, "err", err)
			return idle{}
		}
		return ctl
	}
	return cons, nil
}

// idle stands in for a controller that could not be built, so the others still run.
type idle struct{}

func (idle) Run(ctx context.Context) { <-ctx.Done() }

// newScheduler builds a scheduler from its config file; start starts its
// informers: shared ones if given, else its own.
func newScheduler(rc *rest.Config, configPath string, shared informers.SharedInformerFactory) (*scheduler.Scheduler, func(<-chan struct{}), error) {
	cfg := scheduler.Config{}
	if configPath != "" {
		var err error
		if cfg, err = scheduler.LoadConfig(configPath); err != nil {
			return nil, nil, err
		}
	}
	rc = manager.ClientConfig(rc)
	rc.UserAgent = "skiff-scheduler"
	// Every scheduled pod costs a binding and an event: the controllers' limit
	// would cap scheduling at a few hundred pods a second.
	rc.QPS, rc.Burst = 5000, 10000
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	cc := controller.NewContext(client, 0)
	if shared != nil {
		cc.Informers = shared
	}
	s, err := scheduler.New(client, cc.Informers, cc.Recorder(scheduler.DefaultSchedulerName), cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("scheduler: %w", err)
	}
	return s, cc.Informers.Start, nil
}

// runLocalAgent runs the node agent for this machine with the server's own credentials.
func runLocalAgent(ctx context.Context, srv *apiserver.Server, cfg Config) error {
	ac := cfg.Agent
	ac.Server = "https://" + srv.Addr
	ac.ControlPlane = true
	ac.ClusterCIDR = cfg.ClusterCIDR
	ac.ServiceCIDR = cfg.ServiceCIDR
	if ac.DataDir == "" {
		ac.DataDir = filepath.Join(cfg.DataDir, "agent")
	}
	creds, rc, err := nodeCredentials(srv, ac)
	if err != nil {
		return err
	}
	ac.CAPEM, ac.ServingCert = srv.CA.CertPEM, creds
	err = agent.Run(ctx, ac, rc)
	if err != nil && ctx.Err() == nil {
		// The control plane keeps serving: a missing containerd must not take it down.
		slog.Error("the local node agent stopped; the control plane keeps running", "err", err)
		<-ctx.Done()
	}
	return nil
}
