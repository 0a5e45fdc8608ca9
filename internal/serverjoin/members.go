package serverjoin

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Member is one server of the cluster as `skiff server list` shows it.
type Member struct {
	Name    string   `json:"name"`
	ID      string   `json:"id"`
	PeerURL []string `json:"peerURLs"`
	Learner bool     `json:"learner"`
	Self    bool     `json:"self,omitempty"`
}

// MembersHandler lists the servers (GET MembersPath) and removes one
// (DELETE MembersPath/NAME). A server cannot remove itself: its etcd would stop
// under the request.
func (c *Cluster) MembersHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, MembersPath), "/")
		var err error
		switch {
		case r.Method == http.MethodGet && name == "":
			var ms []Member
			if ms, err = c.members(r.Context()); err == nil {
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(ms)
				return
			}
		case r.Method == http.MethodDelete && name != "":
			if err = c.Remove(r.Context(), name); err == nil {
				writeStatusObject(w, metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusOK,
					Message: "server " + name + " removed from the etcd cluster"})
				return
			}
		default:
			err = apierrors.NewMethodNotSupported(resource, r.Method)
		}
		writeStatus(w, err)
	})
}

func (c *Cluster) members(ctx context.Context) ([]Member, error) {
	list, err := c.Etcd.MemberList(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	var out []Member
	for _, m := range list.Members {
		out = append(out, Member{Name: m.Name, ID: fmt.Sprintf("%x", m.ID), PeerURL: m.PeerURLs, Learner: m.IsLearner, Self: m.ID == c.Self})
	}
	return out, nil
}

// Remove takes the server called name out of the etcd cluster. It refuses this
// server's own member: its etcd would stop under the request.
func (c *Cluster) Remove(ctx context.Context, name string) error {
	return c.remove(ctx, name, false)
}

// RemoveMember takes the server called name out of the etcd cluster, even this
// one (which then stops): the etcd-member controller calls it when a server's
// Node is deleted.
func (c *Cluster) RemoveMember(ctx context.Context, name string) error {
	return c.remove(ctx, name, true)
}

// MemberNames names every member, learners included.
func (c *Cluster) MemberNames(ctx context.Context) ([]string, error) {
	ms, err := c.members(ctx)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(ms))
	for i, m := range ms {
		names[i] = m.Name
	}
	return names, nil
}

func (c *Cluster) remove(ctx context.Context, name string, self bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	list, err := c.Etcd.MemberList(ctx)
	if err != nil {
		return unavailable(err)
	}
	for _, m := range list.Members {
		if m.Name != name {
			continue
		}
		if m.ID == c.Self && !self {
			return apierrors.NewBadRequest(fmt.Sprintf("server %q is the one answering this request; remove it through another server", name))
		}
		if _, err := c.Etcd.MemberRemove(ctx, m.ID); err != nil {
			return unavailable(err)
		}
		slog.Info("server removed from the etcd cluster", "name", name)
		return nil
	}
	return apierrors.NewNotFound(resource, name)
}

// Promote makes learners that have caught up voting members, every interval until
// ctx ends. etcd refuses a learner that is still behind, so it is simply retried.
func (c *Cluster) Promote(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		list, err := c.Etcd.MemberList(ctx)
		if err != nil {
			continue
		}
		for _, m := range list.Members {
			if !m.IsLearner || m.Name == "" {
				continue
			}
			if _, err := c.Etcd.MemberPromote(ctx, m.ID); err != nil {
				slog.Debug("etcd learner not promoted yet", "name", m.Name, "err", err)
				continue
			}
			slog.Info("etcd learner promoted to voting member", "name", m.Name)
		}
	}
}
