package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/internal/images"
)

const imageUsage = `usage:
  skiff image import [--kubeconfig F] FILE...   push docker-save or OCI archives into the cluster's registry
  skiff image ls [--kubeconfig F]               list the registry's images
`

// runImage talks to the built-in registry of the server the kubeconfig names.
func runImage(ctx context.Context, w io.Writer, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("missing subcommand\n%s", imageUsage)
	}
	fs := flag.NewFlagSet("image "+args[0], flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", defaultKubeconfig(), "kubeconfig of the cluster (admin credentials push)")
	_ = fs.Parse(args[1:])
	cfg, err := clientcmd.BuildConfigFromFlags("", *kubeconfig)
	if err != nil {
		return fmt.Errorf("kubeconfig %s: %w", *kubeconfig, err)
	}
	tlsConfig, err := rest.TLSConfigFor(cfg)
	if err != nil {
		return err
	}
	switch args[0] {
	case "import":
		if fs.NArg() == 0 {
			return fmt.Errorf("no archive given\n%s", imageUsage)
		}
		for _, file := range fs.Args() {
			refs, err := images.ImportTo(ctx, file, cfg.Host, tlsConfig)
			if err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			for _, r := range refs {
				fmt.Fprintf(w, "imported %s\n", r)
			}
		}
		return nil
	case "ls", "list":
		u, err := url.Parse(cfg.Host)
		if err != nil {
			return err
		}
		reg, err := name.NewRegistry(u.Host)
		if err != nil {
			return err
		}
		transport := http.DefaultTransport.(*http.Transport).Clone()
		transport.TLSClientConfig = tlsConfig
		opts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(transport)}
		repos, err := remote.Catalog(ctx, reg, opts...)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
		fmt.Fprintln(tw, "IMAGE\tTAG")
		for _, repo := range repos {
			tags, err := remote.List(reg.Repo(repo), opts...)
			if err != nil {
				return err
			}
			for _, t := range tags {
				fmt.Fprintf(tw, "%s\t%s\n", repo, t)
			}
		}
		return tw.Flush()
	}
	return fmt.Errorf("unknown subcommand %q\n%s", args[0], imageUsage)
}

// defaultKubeconfig is $KUBECONFIG, else the default server data dir's admin kubeconfig.
func defaultKubeconfig() string {
	if k := os.Getenv("KUBECONFIG"); k != "" {
		return k
	}
	return filepath.Join("/var/lib/skiff", "admin.kubeconfig")
}
