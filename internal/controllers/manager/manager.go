// Package manager is the controller manager: it builds the controllers it is given,
// starts their shared informers and runs them, optionally only while it holds the
// "skiff-controller-manager" Lease so that one of several servers acts at a time.
package manager

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"skiff/internal/controllers/controller"
	"skiff/internal/leader"
)

// Runner is a built controller.
type Runner interface{ Run(ctx context.Context) }

// Constructor builds a controller and registers its informer handlers on c.Informers.
type Constructor func(c *controller.Context) Runner

// The controller manager's Lease.
const (
	LeaseName      = "skiff-controller-manager"
	LeaseNamespace = "kube-system"
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
	// Resync is the informers' resync period; DefaultResync if zero.
	Resync time.Duration
	// Informers, if set, are shared with other components of the process (see
	// controller.Shared) instead of made afresh each time the manager leads.
	Informers informers.SharedInformerFactory
}

// DefaultResync is the informers' resync period when Options leave it zero.
const DefaultResync = 10 * time.Minute

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
		resync = DefaultResync
	}
	start := func(ctx context.Context) {
		cc := controller.NewContext(client, resync)
		if opts.Informers != nil {
			cc.Informers = opts.Informers
		}
		runAll(ctx, cc, names, opts.Constructors)
	}
	if !opts.LeaderElect {
		start(ctx)
		return nil
	}
	return leader.Run(ctx, client, LeaseNamespace, LeaseName, leader.Identity(opts.Identity), start)
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
