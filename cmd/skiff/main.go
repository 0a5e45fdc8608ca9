// Command skiff runs a Kubernetes-compatible cluster from one binary.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"skiff/internal/apiserver"
)

const usage = `skiff runs a Kubernetes-compatible cluster from one binary.

Usage:
  skiff server [flags]       run the control plane (API server on etcd)
  skiff kubeconfig [flags]   print the admin kubeconfig of a server's data dir
  skiff image import FILE    push a docker-save or OCI archive into the cluster's registry
  skiff image ls             list the cluster's images
  skiff version              print the version

Run 'skiff <command> -h' for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "server":
		err = runServer(ctx, args)
	case "kubeconfig":
		err = runKubeconfig(os.Stdout, args)
	case "image":
		err = runImage(ctx, os.Stdout, args)
	case "version", "--version":
		v := apiserver.Version()
		fmt.Printf("skiff (Kubernetes %s, %s)\n", v.GitVersion, v.GoVersion)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "skiff: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "skiff %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func runServer(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	var cfg apiserver.Config
	var etcd string
	fs.StringVar(&cfg.DataDir, "data-dir", "/var/lib/skiff", "where the cluster keeps its state")
	fs.StringVar(&cfg.BindAddress, "bind-address", "0.0.0.0", "address the API server listens on")
	fs.IntVar(&cfg.HTTPSPort, "https-port", 6443, "API server port (0 picks a free one)")
	fs.StringVar(&cfg.ServiceCIDR, "service-cidr", "10.43.0.0/16", "range for Service cluster IPs")
	fs.StringVar(&cfg.ClusterCIDR, "cluster-cidr", "10.42.0.0/16", "range for pod IPs; each node gets a /24")
	fs.StringVar(&etcd, "etcd-endpoints", "", "comma-separated URLs of an external etcd cluster (default: embedded etcd in the data dir)")
	fs.Bool("disable-agent", true, "run the control plane only (the node agent is not built yet)")
	_ = fs.Parse(args)
	if etcd != "" {
		cfg.EtcdEndpoints = strings.Split(etcd, ",")
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return err
	}
	cfg.DataDir = abs
	srv, err := apiserver.Start(ctx, cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

func runKubeconfig(w io.Writer, args []string) error {
	fs := flag.NewFlagSet("kubeconfig", flag.ExitOnError)
	dir := fs.String("data-dir", "/var/lib/skiff", "the server's data dir")
	_ = fs.Parse(args)
	data, err := os.ReadFile(filepath.Join(*dir, "admin.kubeconfig"))
	if err != nil {
		return fmt.Errorf("%w (has 'skiff server --data-dir %s' run?)", err, *dir)
	}
	_, err = w.Write(data)
	return err
}
