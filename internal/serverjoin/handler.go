package serverjoin

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
)

// Request is what a joining server sends: its member name and peer URL.
type Request struct {
	Name    string `json:"name"`
	PeerURL string `json:"peerURL"`
}

// Response carries the shared secrets and the etcd membership to start with.
type Response struct {
	Files          map[string][]byte `json:"files"`
	InitialCluster string            `json:"initialCluster"`
	ServiceCIDR    string            `json:"serviceCIDR"`
	ClusterCIDR    string            `json:"clusterCIDR"`
}

// EncryptionFile is where a joined server keeps the cluster's encryption config.
const EncryptionFile = "encryption/config.yaml"

// SharedFiles are the data-dir files every server of a cluster holds alike; the
// joiner writes these names and no others.
var SharedFiles = []string{"tls/ca.crt", "tls/ca.key", "tls/sa.key", "token", "server-token", EncryptionFile}

// Cluster is the running server's side of a join.
type Cluster struct {
	Etcd    clientv3.Cluster
	Self    uint64 // this server's etcd member ID
	DataDir string
	// EncryptionConfig is the encryption configuration file this server loaded.
	EncryptionConfig         string
	ServiceCIDR, ClusterCIDR string
	// EnablePeers opens this server's etcd peer port (once) and returns its peer URL.
	EnablePeers func(ctx context.Context) (string, error)

	mu sync.Mutex // one join at a time: each reads the membership the last one changed
}

var resource = schema.GroupResource{Group: "skiff.io", Resource: "servers"}

// JoinHandler adds the caller as an etcd learner and hands it the shared secrets.
// The API server authorizes only the server join token's identity here.
func (c *Cluster) JoinHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			writeStatus(w, apierrors.NewMethodNotSupported(resource, r.Method))
			return
		}
		var req Request
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil {
			writeStatus(w, apierrors.NewBadRequest("server join request: "+err.Error()))
			return
		}
		resp, err := c.join(r.Context(), req)
		if err != nil {
			writeStatus(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	})
}

func (c *Cluster) join(ctx context.Context, req Request) (*Response, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	files, err := c.sharedFiles()
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.EnablePeers(ctx); err != nil {
		return nil, apierrors.NewInternalError(fmt.Errorf("open this server's etcd peer port: %w", err))
	}
	list, err := c.Etcd.MemberList(ctx)
	if err != nil {
		return nil, unavailable(err)
	}
	pending := false
	for _, m := range list.Members {
		for _, u := range m.PeerURLs {
			if u != req.PeerURL {
				continue
			}
			if m.Name != "" && m.Name != req.Name {
				return nil, apierrors.NewConflict(resource, req.Name, fmt.Errorf("peer URL %s belongs to server %q", u, m.Name))
			}
			pending = true // an earlier attempt of this server: hand out the same membership
		}
		if m.Name == req.Name && !pending {
			return nil, apierrors.NewAlreadyExists(resource, req.Name+
				" (a server of this name is an etcd member already; `skiff server remove "+req.Name+"` first, or choose another --node-name)")
		}
	}
	if !pending {
		added, err := c.addLearner(ctx, req.PeerURL)
		if err != nil {
			return nil, unavailable(err)
		}
		list.Members = added.Members
		slog.Info("server joining: added as etcd learner", "name", req.Name, "peerURL", req.PeerURL)
	}
	var initial []string
	for _, m := range list.Members {
		name := m.Name
		if len(m.PeerURLs) > 0 && m.PeerURLs[0] == req.PeerURL {
			name = req.Name
		} else if name == "" {
			name = fmt.Sprintf("pending-%x", m.ID)
		}
		for _, u := range m.PeerURLs {
			initial = append(initial, name+"="+u)
		}
	}
	return &Response{Files: files, InitialCluster: strings.Join(initial, ","), ServiceCIDR: c.ServiceCIDR, ClusterCIDR: c.ClusterCIDR}, nil
}

// addLearner adds the member, waiting out etcd's "unhealthy cluster" refusal: a
// server that was just promoted has not been connected to every voter for the
// five seconds etcd wants before the membership changes again.
func (c *Cluster) addLearner(ctx context.Context, peerURL string) (*clientv3.MemberAddResponse, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		added, err := c.Etcd.MemberAddAsLearner(ctx, []string{peerURL})
		if err == nil || rpctypes.ErrorDesc(err) != rpctypes.ErrUnhealthy.Error() || time.Now().After(deadline) {
			return added, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// validate checks the member name and that the peer URL is https on an IP address.
func validate(req Request) error {
	if errs := validation.IsDNS1123Subdomain(req.Name); len(errs) > 0 {
		return apierrors.NewBadRequest(fmt.Sprintf("name %q: %s", req.Name, strings.Join(errs, "; ")))
	}
	u, err := url.Parse(req.PeerURL)
	if err == nil && u.Scheme != "https" {
		err = fmt.Errorf("must be https (peers talk mutual TLS only)")
	}
	if err == nil {
		_, err = netip.ParseAddrPort(u.Host)
	}
	if err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("peerURL %q: %v", req.PeerURL, err))
	}
	return nil
}

func (c *Cluster) sharedFiles() (map[string][]byte, error) {
	files := map[string][]byte{}
	for _, name := range SharedFiles {
		path := filepath.Join(c.DataDir, name)
		if name == EncryptionFile {
			path = c.EncryptionConfig
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		files[name] = data
	}
	return files, nil
}

// unavailable turns an etcd error (typically no quorum) into a 503.
func unavailable(err error) error {
	return apierrors.NewServiceUnavailable("etcd: " + err.Error())
}

func writeStatus(w http.ResponseWriter, err error) {
	st, ok := err.(apierrors.APIStatus)
	if !ok {
		st = apierrors.NewInternalError(err)
	}
	writeStatusObject(w, st.Status())
}

func writeStatusObject(w http.ResponseWriter, s metav1.Status) {
	s.Kind, s.APIVersion = "Status", "v1"
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(s.Code))
	_ = json.NewEncoder(w).Encode(&s)
}
