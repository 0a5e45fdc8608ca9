package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/internal/agent"
	"skiff/internal/server"
)

// runStandaloneScheduler is `skiff scheduler`: the scheduler in its own process,
// for a server started with --disable-scheduler.
func runStandaloneScheduler(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("scheduler", flag.ExitOnError)
	var opts server.SchedulerOptions
	fs.StringVar(&opts.ConfigPath, "scheduler-config", "", "scheduler configuration file (profile, plugin weights)")
	fs.BoolVar(&opts.LeaderElect, "leader-elect", true, "schedule only while holding the kube-system/kube-scheduler Lease")
	return runStandalone(fs, args, func(rc *rest.Config) error { return server.RunScheduler(ctx, rc, opts) })
}

// runStandaloneControllerManager is `skiff controller-manager`: the controllers
// in their own process, for a server started with --disable-controllers.
func runStandaloneControllerManager(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("controller-manager", flag.ExitOnError)
	var opts server.ControllerManagerOptions
	var controllers string
	fs.BoolVar(&opts.LeaderElect, "leader-elect", true, "run the controllers only while holding the controller manager's Lease")
	fs.StringVar(&controllers, "controllers", "*", `controllers to run: "*" is all, "name" enables one, "-name" disables one (comma-separated)`)
	fs.StringVar(&opts.ClusterCIDR, "cluster-cidr", agent.DefaultClusterCIDR, "range for pod IPs; each node gets a /24")
	fs.StringVar(&opts.LBPool, "lb-pool", "", "addresses for LoadBalancer services (default: node addresses)")
	return runStandalone(fs, args, func(rc *rest.Config) error {
		opts.Controllers = strings.Split(controllers, ",")
		return server.RunControllerManager(ctx, rc, opts)
	})
}

// runStandalone adds the flags every standalone component shares (kubeconfig,
// profiling), parses args and runs the component against the cluster.
func runStandalone(fs *flag.FlagSet, args []string, run func(*rest.Config) error) error {
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster (default $KUBECONFIG, else the default server's admin kubeconfig)")
	var prof profiling
	prof.register(fs)
	_ = fs.Parse(args)
	rc, err := loadKubeconfig(*kubeconfig)
	if err != nil {
		return err
	}
	stop, err := prof.start()
	if err != nil {
		return err
	}
	defer stop()
	return run(rc)
}

func loadKubeconfig(path string) (*rest.Config, error) {
	if path == "" {
		path = defaultKubeconfig()
	}
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig %s: %w", path, err)
	}
	return rc, nil
}
