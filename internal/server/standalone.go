package server

import (
	"context"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/controllers/manager"
	"skiff/internal/leader"
)

// The scheduler's Lease, where kube-scheduler keeps its own.
const (
	SchedulerLeaseName      = "kube-scheduler"
	SchedulerLeaseNamespace = "kube-system"
)

// SchedulerOptions are `skiff scheduler`'s command line.
type SchedulerOptions struct {
	ConfigPath  string
	LeaderElect bool
	// Identity names this instance in the Lease; hostname plus a random suffix if empty.
	Identity string
	// Metrics, if set, publishes the scheduler's metrics (skiff server's /metrics).
	Metrics prometheus.Registerer
	// Informers, if set, are shared with the controller manager (see
	// controller.Shared).
	Informers informers.SharedInformerFactory
}

// RunScheduler runs the scheduler, in skiff server or as its own process. With LeaderElect it fills
// its caches at once but schedules only while it holds the Lease, so a standby
// takes over warm; losing the Lease is an error, and the process should exit, as
// kube-scheduler does, since its assumed pods are no longer trustworthy.
func RunScheduler(ctx context.Context, rc *rest.Config, opts SchedulerOptions) error {
	s, start, err := newScheduler(rc, opts.ConfigPath, opts.Informers)
	if err != nil {
		return err
	}
	if opts.Metrics != nil {
		for _, c := range s.Collectors() {
			if err := opts.Metrics.Register(c); err != nil {
				slog.Warn("scheduler metric not published", "err", err)
			}
		}
	}
	defer s.Detach()
	start(ctx.Done())
	if !opts.LeaderElect {
		s.Run(ctx)
		return nil
	}
	client, err := kubernetes.NewForConfig(manager.ClientConfig(rc))
	if err != nil {
		return err
	}
	return leader.Run(ctx, client, SchedulerLeaseNamespace, SchedulerLeaseName, leader.Identity(opts.Identity), s.Run)
}

// ControllerManagerOptions are `skiff controller-manager`'s command line.
type ControllerManagerOptions struct {
	LeaderElect bool
	Controllers []string
	ClusterCIDR string
	LBPool      string
}

// RunControllerManager runs the controllers as their own process, with the same
// set and Lease as the ones inside `skiff server`. The root CA published to every
// namespace is the one the kubeconfig trusts.
func RunControllerManager(ctx context.Context, rc *rest.Config, opts ControllerManagerOptions) error {
	cfg := Config{LBPool: opts.LBPool}
	cfg.ClusterCIDR = opts.ClusterCIDR
	cons, err := constructors(rc, nil, cfg)
	if err != nil {
		return err
	}
	return manager.Run(ctx, rc, manager.Options{LeaderElect: opts.LeaderElect, Controllers: opts.Controllers, Constructors: cons})
}
