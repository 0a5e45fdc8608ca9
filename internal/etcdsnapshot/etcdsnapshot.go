// Package etcdsnapshot keeps snapshots of the embedded etcd under the server's data
// dir: on a schedule with a retention count, and on demand through the API server
// (the only process that can reach an etcd that listens on nothing).
package etcdsnapshot

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"skiff/internal/store"
)

// Path is where the API server takes snapshots on demand (POST) and lists every
// server's (GET); cluster admins only.
const Path = "/skiff/v1/etcd-snapshots"

const prefix, suffix = "skiff-snapshot-", ".db"

// Dir is where a server keeps its snapshots.
func Dir(dataDir string) string { return filepath.Join(dataDir, "snapshots") }

// Info describes one snapshot file.
type Info struct {
	Name    string    `json:"name"`
	Server  string    `json:"server,omitempty"` // the server that holds the file
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	Created time.Time `json:"created"`
}

// Save takes a snapshot into dir, named after the time.
func Save(ctx context.Context, e *store.Etcd, dir string, now time.Time) (Info, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Info{}, err
	}
	name := prefix + now.UTC().Format("20060102-150405.000") + suffix
	path := filepath.Join(dir, name)
	n, err := e.Save(ctx, path)
	if err != nil {
		return Info{}, err
	}
	return Info{Name: name, Path: path, Size: n, Created: now}, nil
}

// List returns the snapshots in dir, newest first.
func List(dir string) ([]Info, error) {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Info
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), prefix) || !strings.HasSuffix(e.Name(), suffix) {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, Info{Name: e.Name(), Path: filepath.Join(dir, e.Name()), Size: fi.Size(), Created: fi.ModTime()})
	}
	// Names sort by the time they carry.
	slices.SortFunc(out, func(a, b Info) int { return strings.Compare(b.Name, a.Name) })
	return out, nil
}

// Prune keeps the newest keep snapshots in dir and removes the others.
func Prune(dir string, keep int) ([]Info, error) {
	all, err := List(dir)
	if err != nil || len(all) <= keep {
		return nil, err
	}
	for _, s := range all[keep:] {
		if err := os.Remove(s.Path); err != nil {
			return nil, err
		}
	}
	return all[keep:], nil
}

// Schedule takes a snapshot every interval and keeps the newest keep, until ctx
// ends; x records what is kept.
func Schedule(ctx context.Context, e *store.Etcd, x *Index, interval time.Duration, keep int) {
	dir := x.Dir
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			info, err := Save(ctx, e, dir, now)
			if err != nil {
				slog.Error("scheduled etcd snapshot failed", "err", err)
				continue
			}
			pruned, err := Prune(dir, keep)
			if err != nil {
				slog.Warn("pruning etcd snapshots", "err", err)
			}
			slog.Info("etcd snapshot saved", "path", info.Path, "bytes", info.Size, "pruned", len(pruned))
			if err := x.Sync(ctx); err != nil {
				slog.Warn("recording etcd snapshots", "err", err)
			}
		}
	}
}

// Handler takes a snapshot on POST and answers with its Info as JSON; GET
// answers with every server's snapshots.
func Handler(e *store.Etcd, x *Index) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var out any
		var err error
		switch r.Method {
		case http.MethodPost:
			var info Info
			if info, err = Save(r.Context(), e, x.Dir, time.Now()); err == nil {
				info.Server = x.Server
				out = info
				if serr := x.Sync(r.Context()); serr != nil {
					slog.Warn("recording etcd snapshots", "err", serr)
				}
			}
		case http.MethodGet:
			if err = x.Sync(r.Context()); err == nil {
				out, err = x.All(r.Context())
			}
		default:
			w.Header().Set("Allow", "GET, POST")
			http.Error(w, "POST takes a snapshot, GET lists them", http.StatusMethodNotAllowed)
			return
		}
		if err != nil {
			http.Error(w, fmt.Sprintf("etcd snapshots: %v", err), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	})
}
