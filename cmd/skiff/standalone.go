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
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster (default $KUBECONFIG, else the default server's admin kubeconfig)")
	var opts server.SchedulerOptions
	fs.StringVar(&opts.ConfigPath, "scheduler-config", "", "scheduler configuration file (profile, plugin weights)")
	fs.BoolVar(&opts.LeaderElect, "leader-elect", true, "schedule only while holding the kube-system/kube-scheduler Lease")
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
	return server.RunScheduler(ctx, rc, opts)
}

// runStandaloneControllerManager is `skiff controller-manager`: the controllers
// in their own process, for a server started with --disable-controllers.
func runStandaloneControllerManager(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("controller-manager", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig of the cluster (default $KUBECONFIG, else the default server's admin kubeconfig)")
	var opts server.ControllerManagerOptions
	var controllers string
	fs.BoolVar(&opts.LeaderElect, "leader-elect", true, "run the controllers only while holding the controller manager's Lease")
	fs.StringVar(&controllers, "controllers", "*", `controllers to run: "*" is all, "name" enables one, "-name" disables one (comma-separated)`)
	fs.StringVar(&opts.ClusterCIDR, "cluster-cidr", agent.DefaultClusterCIDR, "range for pod IPs; each node gets a /24")
	fs.StringVar(&opts.LBPool, "lb-pool", "", "addresses for LoadBalancer services (default: node addresses)")
	var prof profiling
	prof.register(fs)
	_ = fs.Parse(args)
	opts.Controllers = strings.Split(controllers, ",")
	rc, err := loadKubeconfig(*kubeconfig)
	if err != nil {
		return err
	}
	stop, err := prof.start()
	if err != nil {
		return err
	}
	defer stop()
	return server.RunControllerManager(ctx, rc, opts)
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
