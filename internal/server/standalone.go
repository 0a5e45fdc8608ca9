package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"skiff/internal/controllers/manager"
)

// The scheduler's Lease, where kube-scheduler keeps its own, with its timings.
const (
	SchedulerLeaseName      = "kube-scheduler"
	SchedulerLeaseNamespace = "kube-system"
	leaseDuration           = 15 * time.Second
	renewDeadline           = 10 * time.Second
	retryPeriod             = 2 * time.Second
)

// SchedulerOptions are `skiff scheduler`'s command line.
type SchedulerOptions struct {
	ConfigPath  string
	LeaderElect bool
	// Identity names this instance in the Lease; hostname plus a random suffix if empty.
	Identity string
}

// RunScheduler runs the scheduler as its own process. With LeaderElect it fills
// its caches at once but schedules only while it holds the Lease, so a standby
// takes over warm; losing the Lease is an error, and the process should exit, as
// kube-scheduler does, since its assumed pods are no longer trustworthy.
func RunScheduler(ctx context.Context, rc *rest.Config, opts SchedulerOptions) error {
	s, start, err := newScheduler(rc, opts.ConfigPath)
	if err != nil {
		return err
	}
	start(ctx.Done())
	if !opts.LeaderElect {
		s.Run(ctx)
		return nil
	}
	client, err := kubernetes.NewForConfig(manager.ClientConfig(rc))
	if err != nil {
		return err
	}
	return lead(ctx, client, SchedulerLeaseNamespace, SchedulerLeaseName, identity(opts.Identity), s.Run)
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

func identity(id string) string {
	if id != "" {
		return id
	}
	host, _ := os.Hostname()
	return host + "_" + uuid.NewString()
}

// lead runs run while this instance holds the Lease namespace/name.
func lead(ctx context.Context, client kubernetes.Interface, namespace, name, id string, run func(context.Context)) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: namespace, Name: name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	lost := false
	var started atomic.Bool
	done := make(chan struct{})
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, Name: name, ReleaseOnCancel: true,
		LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				started.Store(true)
				defer close(done)
				slog.Info("leading", "lease", namespace+"/"+name, "identity", id)
				run(ctx)
			},
			OnStoppedLeading: func() {
				lost = ctx.Err() == nil
				slog.Info("stopped leading", "lease", namespace+"/"+name, "identity", id, "lost", lost)
			},
			OnNewLeader: func(leader string) {
				if leader != id {
					slog.Info("new leader elected", "lease", namespace+"/"+name, "leader", leader, "identity", id)
				}
			},
		},
	})
	if err != nil {
		return err
	}
	le.Run(ctx)
	if started.Load() {
		<-done // run has seen its context end
	}
	if lost {
		return fmt.Errorf("lost the leader lease %s/%s", namespace, name)
	}
	return nil
}
