// Package manager is the controller manager: it builds the controllers it is given,
// starts their shared informers and runs them, optionally only while it holds the
// "skiff-controller-manager" Lease so that one of several servers acts at a time.
package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"skiff/internal/controllers/controller"
)

// Runner is a built controller.
type Runner interface{ Run(ctx context.Context) }

// Constructor builds a controller and registers its informer handlers on c.Informers.
type Constructor func(c *controller.Context) Runner

// Leader election timings, as kube-controller-manager's defaults.
const (
	LeaseName      = "skiff-controller-manager"
	LeaseNamespace = "kube-system"
	leaseDuration  = 15 * time.Second
	renewDeadline  = 10 * time.Second
	retryPeriod    = 2 * time.Second
)

// Options say which controllers run and how the manager identifies itself.
type Options struct {
	// Identity names this instance in the Lease; hostname plus a random suffix if empty.
	Identity string
	// LeaderElect runs the controllers only while this instance holds the Lease.
	LeaderElect bool
	// Controllers selects by name as kube-controller-manager's --controllers flag does:
	// "*" is every controller, "name" enables one, "-name" disables one. Empty means "*".
	Controllers []string
	// Constructors are every controller the manager may run, by name. Platform returns
	// this package's set; callers add the workload controllers to the same map.
	Constructors map[string]Constructor
	// Resync is the informers' resync period; 10 minutes if zero.
	Resync time.Duration
}

// ClientConfig returns cfg tuned for a controller manager: protobuf on the wire, and
// a rate limit high enough for bursts of pod writes.
func ClientConfig(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.ContentType = "application/vnd.kubernetes.protobuf"
	c.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
	c.QPS, c.Burst = 200, 400
	if c.UserAgent == "" {
		c.UserAgent = "skiff-controller-manager"
	}
	return c
}

// Run runs the selected controllers until ctx ends. With LeaderElect it first waits to
// acquire the Lease and returns an error if it loses it: the caller should exit, as
// kube-controller-manager does, because controllers cannot be stopped half-way safely.
func Run(ctx context.Context, cfg *rest.Config, opts Options) error {
	names, err := Select(opts.Controllers, opts.Constructors)
	if err != nil {
		return err
	}
	cfg = ClientConfig(cfg)
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	resync := opts.Resync
	if resync == 0 {
		resync = 10 * time.Minute
	}
	start := func(ctx context.Context) {
		runAll(ctx, controller.NewContext(client, resync), names, opts.Constructors)
	}
	if !opts.LeaderElect {
		start(ctx)
		return nil
	}
	return elect(ctx, client, identity(opts.Identity), start)
}

func identity(id string) string {
	if id != "" {
		return id
	}
	host, _ := os.Hostname()
	return host + "_" + uuid.NewString()
}

// elect runs start while this instance leads.
func elect(ctx context.Context, client kubernetes.Interface, id string, start func(context.Context)) error {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: LeaseNamespace, Name: LeaseName},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	var lost bool
	var wg sync.WaitGroup
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, Name: LeaseName, ReleaseOnCancel: true,
		LeaseDuration: leaseDuration, RenewDeadline: renewDeadline, RetryPeriod: retryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				wg.Add(1)
				defer wg.Done()
				slog.Info("controller manager leading", "identity", id)
				start(ctx)
			},
			OnStoppedLeading: func() {
				lost = ctx.Err() == nil
				slog.Info("controller manager stopped leading", "identity", id, "lost", lost)
			},
			OnNewLeader: func(leader string) {
				if leader != id {
					slog.Info("controller manager leader elected", "leader", leader)
				}
			},
		},
	})
	if err != nil {
		return err
	}
	le.Run(ctx)
	wg.Wait()
	if lost {
		return errors.New("controller manager lost its leader lease")
	}
	return nil
}

// runAll builds the controllers (registering their informers), starts the informers,
// then runs each controller until ctx ends.
func runAll(ctx context.Context, cc *controller.Context, names []string, cons map[string]Constructor) {
	runners := make(map[string]Runner, len(names))
	for _, n := range names {
		runners[n] = cons[n](cc)
	}
	cc.Informers.Start(ctx.Done())
	var wg sync.WaitGroup
	for n, r := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slog.Info("starting controller", "controller", n)
			r.Run(ctx)
		}()
	}
	wg.Wait()
	cc.Informers.Shutdown()
}

// Select resolves --controllers style names against the known constructors.
func Select(sel []string, cons map[string]Constructor) ([]string, error) {
	if len(sel) == 0 {
		sel = []string{"*"}
	}
	all := make([]string, 0, len(cons))
	for n := range cons {
		all = append(all, n)
	}
	sort.Strings(all)
	var on []string
	off := map[string]bool{}
	star := false
	for _, s := range sel {
		name, neg := s, false
		if len(s) > 0 && s[0] == '-' {
			name, neg = s[1:], true
		}
		if _, known := cons[name]; name != "*" && !known {
			return nil, fmt.Errorf("unknown controller %q (known: %v)", name, all)
		}
		switch {
		case name == "*":
			star = true
		case neg:
			off[name] = true
		default:
			on = append(on, name)
		}
	}
	var out []string
	for _, n := range all {
		if !off[n] && (star || slices.Contains(on, n)) {
			out = append(out, n)
		}
	}
	return out, nil
}
