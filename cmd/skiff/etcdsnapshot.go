package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/internal/etcdsnapshot"
)

const etcdSnapshotUsage = "usage: skiff etcd-snapshot save|list|prune [--data-dir DIR] [--retention N]"

// runEtcdSnapshot is `skiff etcd-snapshot save|list|prune`. A snapshot is taken by
// the running server (etcd listens on nothing else) and written to DATA-DIR/snapshots;
// list and prune work on that directory.
func runEtcdSnapshot(ctx context.Context, out io.Writer, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf(etcdSnapshotUsage)
	}
	fs := flag.NewFlagSet("etcd-snapshot "+args[0], flag.ExitOnError)
	dataDir := fs.String("data-dir", "/var/lib/skiff", "the server's data dir")
	keep := fs.Int("retention", 5, "prune: how many of the newest snapshots to keep")
	_ = fs.Parse(args[1:])
	dir, err := filepath.Abs(*dataDir)
	if err != nil {
		return err
	}
	switch args[0] {
	case "save":
		info, err := saveSnapshot(ctx, dir)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "saved %s (%d bytes)\n", info.Path, info.Size)
	case "list", "ls":
		all, err := etcdsnapshot.List(etcdsnapshot.Dir(dir))
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%-44s %12s  %s\n", "NAME", "SIZE", "CREATED")
		for _, s := range all {
			fmt.Fprintf(out, "%-44s %12d  %s\n", s.Name, s.Size, s.Created.Format("2006-01-02T15:04:05Z07:00"))
		}
	case "prune":
		gone, err := etcdsnapshot.Prune(etcdsnapshot.Dir(dir), *keep)
		if err != nil {
			return err
		}
		for _, s := range gone {
			fmt.Fprintf(out, "removed %s\n", s.Name)
		}
	default:
		return fmt.Errorf(etcdSnapshotUsage)
	}
	return nil
}

// saveSnapshot asks the server running in dataDir for a snapshot, as its admin.
func saveSnapshot(ctx context.Context, dataDir string) (etcdsnapshot.Info, error) {
	var info etcdsnapshot.Info
	rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "admin.kubeconfig"))
	if err != nil {
		return info, fmt.Errorf("the server's admin kubeconfig: %w", err)
	}
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return info, err
	}
	body, err := c.Discovery().RESTClient().Post().AbsPath(etcdsnapshot.Path).DoRaw(ctx)
	if err != nil {
		return info, fmt.Errorf("snapshot: %v: %s", err, body)
	}
	return info, json.Unmarshal(body, &info)
}
