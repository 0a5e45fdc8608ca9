package csi

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	snapclient "github.com/kubernetes-csi/external-snapshotter/client/v8/clientset/versioned"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/util/retry"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
)

// Node is one agent's CSI drivers.
type Node struct {
	root   string
	name   string
	client kubernetes.Interface

	mu      sync.Mutex
	drivers map[string]*Driver // by name
	sockets map[string]string  // registration socket -> driver name
	failed  map[string]string  // registration socket -> last error logged
	// published are the CSI volumes this agent published, by pod UID.
	published map[string][]publication
	// onPublish is told of each volume published (the resizer's node side).
	onPublish func(*corev1.PersistentVolume)
	// snapshots is the snapshot.storage.k8s.io client; nil: no snapshots.
	snapshots snapclient.Interface
}

// UseSnapshots lets the node take and restore VolumeSnapshots, with a client from
// rc (as JSON: the snapshot kinds are CRDs, which do not speak protobuf).
func (n *Node) UseSnapshots(rc *rest.Config) error {
	rc = rest.CopyConfig(rc)
	rc.ContentType, rc.AcceptContentTypes = "application/json", "application/json"
	c, err := snapclient.NewForConfig(rc)
	if err != nil {
		return err
	}
	n.snapshots = c
	return nil
}

// NewNode returns the CSI side of the agent whose kubelet directory is root, with
// the publications an earlier run of the agent left recorded there.
func NewNode(root, node string, client kubernetes.Interface) *Node {
	n := &Node{root: root, name: node, client: client, drivers: map[string]*Driver{},
		sockets: map[string]string{}, failed: map[string]string{}, published: map[string][]publication{}}
	n.restore()
	return n
}

// RegistrationDir is where plugins put their registration sockets.
func RegistrationDir(root string) string { return filepath.Join(root, "plugins_registry") }

// Driver returns the registered driver called name.
func (n *Node) Driver(name string) (*Driver, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	d, ok := n.drivers[name]
	if !ok {
		return nil, fmt.Errorf("CSI driver %q is not registered on node %q", name, n.name)
	}
	return d, nil
}

// WatchRegistrations registers the drivers whose sockets appear in the registration
// directory and forgets those whose sockets go, until ctx ends. The directory is
// scanned every second: registrations are rare, and a scan cannot miss an event.
func (n *Node) WatchRegistrations(ctx context.Context) {
	dir := RegistrationDir(n.root)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		slog.Error("csi: registration directory", "err", err)
		return
	}
	_ = os.MkdirAll(filepath.Join(n.root, "plugins"), 0o750)
	for {
		n.scan(ctx, dir)
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (n *Node) scan(ctx context.Context, dir string) {
	entries, _ := os.ReadDir(dir)
	seen := map[string]bool{}
	for _, e := range entries {
		if e.Type()&os.ModeSocket == 0 {
			continue
		}
		sock := filepath.Join(dir, e.Name())
		seen[sock] = true
		n.mu.Lock()
		_, known := n.sockets[sock]
		n.mu.Unlock()
		if !known {
			n.register(ctx, sock)
		}
	}
	n.mu.Lock()
	var gone []string
	for sock, name := range n.sockets {
		if !seen[sock] {
			gone = append(gone, name)
			delete(n.sockets, sock)
			if d := n.drivers[name]; d != nil {
				d.close()
				delete(n.drivers, name)
			}
		}
	}
	n.mu.Unlock()
	for _, name := range gone {
		slog.Info("csi: driver deregistered", "driver", name)
		n.updateCSINode(ctx, name, nil)
	}
}

// register runs the kubelet's side of plugin registration for one socket: GetInfo,
// a connection to the driver it names, then NotifyRegistrationStatus with the outcome.
func (n *Node) register(ctx context.Context, sock string) {
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return
	}
	defer conn.Close()
	reg := registerapi.NewRegistrationClient(conn)
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	info, err := reg.GetInfo(cctx, &registerapi.InfoRequest{})
	if err != nil {
		n.logOnce(sock, fmt.Errorf("GetInfo: %w", err))
		return
	}
	d, err := n.accept(ctx, info)
	status := &registerapi.RegistrationStatus{PluginRegistered: err == nil}
	if err != nil {
		status.Error = err.Error()
	}
	if _, nerr := reg.NotifyRegistrationStatus(cctx, status); nerr != nil {
		slog.Info("csi: NotifyRegistrationStatus", "socket", sock, "err", nerr)
	}
	if err != nil {
		n.logOnce(sock, err)
		return
	}
	n.mu.Lock()
	if old := n.drivers[d.Name]; old != nil {
		old.close()
	}
	n.drivers[d.Name] = d
	n.sockets[sock] = d.Name
	delete(n.failed, sock)
	n.mu.Unlock()
	slog.Info("csi: driver registered", "driver", d.Name, "endpoint", d.Endpoint, "nodeID", d.NodeID)
	n.labelNode(ctx, d.Topology)
	n.updateCSINode(ctx, d.Name, d)
}

func (n *Node) logOnce(sock string, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failed[sock] != err.Error() {
		n.failed[sock] = err.Error()
		slog.Warn("csi: plugin registration failed", "socket", sock, "err", err)
	}
}

func (n *Node) accept(ctx context.Context, info *registerapi.PluginInfo) (*Driver, error) {
	if info.Type != registerapi.CSIPlugin {
		return nil, fmt.Errorf("plugin type %q is not supported (only %s)", info.Type, registerapi.CSIPlugin)
	}
	if !supportsV1(info.SupportedVersions) {
		return nil, fmt.Errorf("plugin %q supports CSI versions %v, not 1.x", info.Name, info.SupportedVersions)
	}
	d, err := dial(ctx, info.Endpoint)
	if err != nil {
		return nil, fmt.Errorf("driver %q at %s: %w", info.Name, info.Endpoint, err)
	}
	if d.Name != info.Name {
		d.close()
		return nil, fmt.Errorf("registered as %q but the driver calls itself %q", info.Name, d.Name)
	}
	return d, nil
}

func supportsV1(versions []string) bool {
	for _, v := range versions {
		if v == "1" || strings.HasPrefix(v, "1.") || strings.HasPrefix(v, "v1.") {
			return true
		}
	}
	return false
}

// updateCSINode puts d in this node's CSINode (or takes the driver out when d is nil).
func (n *Node) updateCSINode(ctx context.Context, name string, d *Driver) {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cn, err := n.client.StorageV1().CSINodes().Get(ctx, n.name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			cn, err = n.newCSINode(ctx)
		}
		if err != nil {
			return err
		}
		drivers := cn.Spec.Drivers[:0:0]
		for _, x := range cn.Spec.Drivers {
			if x.Name != name {
				drivers = append(drivers, x)
			}
		}
		if d != nil {
			drivers = append(drivers, d.csiNodeDriver())
		}
		cn.Spec.Drivers = drivers
		_, err = n.client.StorageV1().CSINodes().Update(ctx, cn, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		slog.Warn("csi: updating CSINode", "node", n.name, "driver", name, "err", err)
	}
}

// newCSINode creates the node's CSINode, owned by its Node as in Kubernetes.
func (n *Node) newCSINode(ctx context.Context) (*storagev1.CSINode, error) {
	cn := &storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: n.name}}
	if node, err := n.client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{}); err == nil {
		cn.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: "Node", Name: node.Name, UID: node.UID}}
	}
	return n.client.StorageV1().CSINodes().Create(ctx, cn, metav1.CreateOptions{})
}

func (d *Driver) csiNodeDriver() storagev1.CSINodeDriver {
	out := storagev1.CSINodeDriver{Name: d.Name, NodeID: d.NodeID}
	for k := range d.Topology {
		out.TopologyKeys = append(out.TopologyKeys, k)
	}
	return out
}
