package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"skiff/internal/serverjoin"
)

const serversUsage = "usage: skiff server list | skiff server remove NAME  [--data-dir DIR]"

// runServers is `skiff server list` and `skiff server remove NAME`: the etcd
// members of the control plane, asked of the server running in --data-dir as its
// admin. Removing takes a dead or retired server out of the etcd cluster, so that
// the others' quorum no longer counts it.
func runServers(ctx context.Context, out io.Writer, args []string) error {
	if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
		// `remove NAME --data-dir DIR` as well as `remove --data-dir DIR NAME`
		args = append([]string{args[0]}, append(args[2:], args[1])...)
	}
	fs := flag.NewFlagSet("server "+args[0], flag.ExitOnError)
	dataDir := fs.String("data-dir", "/var/lib/skiff", "a running server's data dir")
	_ = fs.Parse(args[1:])
	rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(*dataDir, "admin.kubeconfig"))
	if err != nil {
		return fmt.Errorf("the server's admin kubeconfig: %w", err)
	}
	c, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	rest := c.Discovery().RESTClient()
	switch {
	case args[0] == "list" && fs.NArg() == 0:
		body, err := rest.Get().AbsPath(serverjoin.MembersPath).DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("list servers: %v: %s", err, body)
		}
		var ms []serverjoin.Member
		if err := json.Unmarshal(body, &ms); err != nil {
			return err
		}
		fmt.Fprintf(out, "%-24s %-18s %-8s %s\n", "NAME", "ID", "ROLE", "PEER URLS")
		for _, m := range ms {
			role := "voter"
			if m.Learner {
				role = "learner"
			}
			name := m.Name
			if m.Self {
				name += " (this)"
			}
			fmt.Fprintf(out, "%-24s %-18s %-8s %s\n", name, m.ID, role, strings.Join(m.PeerURL, ","))
		}
	case args[0] == "remove" && fs.NArg() == 1:
		body, err := rest.Delete().AbsPath(serverjoin.MembersPath, fs.Arg(0)).DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("remove server %s: %v", fs.Arg(0), err)
		}
		var st struct{ Message string }
		_ = json.Unmarshal(body, &st)
		fmt.Fprintln(out, st.Message)
	default:
		return fmt.Errorf(serversUsage)
	}
	return nil
}
