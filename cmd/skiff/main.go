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
	"syscall"

	"skiff/internal/apiserver"
)

const usage = `skiff runs a Kubernetes-compatible cluster from one binary.

Usage:
  skiff server [flags]       run a cluster: API server on etcd, controllers, scheduler and a local node
  skiff agent [flags]        join this machine to a cluster as a node
  skiff agent reset [flags]  remove a node's pods, containerd state, network and cgroups
  skiff scheduler [flags]    run the scheduler on its own (for a server with --disable-scheduler)
  skiff controller-manager [flags]
                             run the controllers on their own (for a server with --disable-controllers)
  skiff simulate [flags]     register simulated nodes (for scale tests and capacity planning)
  skiff simulate plan -f DIR --pool SPEC   how many nodes of each pool the manifests need
  skiff why [-n NS] POD      explain what keeps a pod from running
  skiff token create|list|delete
                             manage join tokens (bootstrap-token Secrets that expire)
  skiff kubeconfig [flags]   print the admin kubeconfig of a server's data dir
  skiff image import FILE    push a docker-save or OCI archive into the cluster's registry
  skiff image ls             list the cluster's images
  skiff secrets rotate-key [flags]
                             encrypt every Secret with a new key and drop the old one (server running)
  skiff etcd-snapshot save|list|prune [flags]
                             snapshot the server's etcd into DATA-DIR/snapshots (restore: skiff server
                             --cluster-reset --restore FILE)
  skiff version              print the version

Run 'skiff <command> -h' for a command's flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	level := slog.LevelInfo
	if os.Getenv("SKIFF_DEBUG") != "" {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
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
	case "agent":
		err = runAgent(ctx, args)
	case "simulate":
		err = runSimulate(ctx, args)
	case "scheduler":
		err = runStandaloneScheduler(ctx, args)
	case "controller-manager":
		err = runStandaloneControllerManager(ctx, args)
	case "why":
		err = runWhy(ctx, os.Stdout, args)
	case "token":
		err = runToken(ctx, os.Stdout, args)
	case "secrets":
		err = runSecrets(ctx, os.Stdout, args)
	case "etcd-snapshot":
		err = runEtcdSnapshot(ctx, os.Stdout, args)
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
