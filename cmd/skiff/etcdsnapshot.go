package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"time"

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
		all, err := listSnapshots(ctx, dir)
		if err != nil {
			// The server is down: this one's files are all there is to list.
			fmt.Fprintf(out, "(the server does not answer (%v): listing %s only)\n", err, etcdsnapshot.Dir(dir))
			if all, err = etcdsnapshot.List(etcdsnapshot.Dir(dir)); err != nil {
				return err
			}
		}
		fmt.Fprintf(out, "%-44s %-16s %12s  %s\n", "NAME", "SERVER", "SIZE", "CREATED")
		for _, s := range all {
			fmt.Fprintf(out, "%-44s %-16s %12d  %s\n", s.Name, s.Server, s.Size, s.Created.Format("2006-01-02T15:04:05Z07:00"))
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
	return info, snapshotRequest(ctx, dataDir, http.MethodPost, &info)
}

// listSnapshots asks the server running in dataDir for every server's snapshots.
func listSnapshots(ctx context.Context, dataDir string) ([]etcdsnapshot.Info, error) {
	var all []etcdsnapshot.Info
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return all, snapshotRequest(ctx, dataDir, http.MethodGet, &all)
}

func snapshotRequest(ctx context.Context, dataDir, method string, into any) error {
	rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(dataDir, "admin.kubeconfig"))
	if err != nil {
		return fmt.Errorf("the server's admin kubeconfig: %w", err)
	}
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	body, err := c.Discovery().RESTClient().Verb(method).AbsPath(etcdsnapshot.Path).DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("snapshot: %v: %s", err, body)
	}
	return json.Unmarshal(body, into)
}
