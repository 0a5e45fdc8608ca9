// Package csi is the node agent's side of the Container Storage Interface: it finds
// drivers through the kubelet plugin-registration directory (as node-driver-registrar
// sidecars announce them), records them in the node's CSINode, stages and publishes
// their volumes for pods, and does on the node what Kubernetes' external-provisioner
// and external-attacher sidecars do (CreateVolume/DeleteVolume for claims on this
// node, ControllerPublish for VolumeAttachments naming it).
//
// Paths follow the kubelet's layout under the agent's kubelet directory (<root>):
//
//	<root>/plugins_registry/<driver>-reg.sock          registration sockets
//	<root>/plugins/<driver>/csi.sock                   driver sockets (by convention)
//	<root>/plugins/kubernetes.io/csi/<driver>/<sha256 of handle>/globalmount   staging
//	<root>/pods/<uid>/volumes/kubernetes.io~csi/<volume>/mount                  publish
package csi

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// callTimeout bounds every CSI call: a driver that hangs fails the operation, which
// is retried, instead of blocking a pod worker or a queue forever.
const callTimeout = 2 * time.Minute

// provisionTimeout bounds CreateVolume and DeleteVolume, as external-provisioner's
// --timeout does (10 s by default): both are idempotent, so a slow driver is asked
// again, and a hung one shows on the claim soon.
const provisionTimeout = 10 * time.Second

// Driver is a registered CSI driver and what it said it can do.
type Driver struct {
	Name     string
	Endpoint string
	NodeID   string
	// Topology is the node's accessible topology, as NodeGetInfo reported it.
	Topology map[string]string

	conn       *grpc.ClientConn
	node       csi.NodeClient
	controller csi.ControllerClient
	stage      bool // NodeStage/NodeUnstage are needed
	publish    bool // ControllerPublish is supported
	provision  bool // CreateVolume/DeleteVolume are supported
	expand     bool // ControllerExpandVolume is supported
	nodeExpand bool // NodeExpandVolume is supported
	snapshot   bool // CreateSnapshot/DeleteSnapshot are supported
	modify     bool // ControllerModifyVolume is supported
}

// dial connects to a driver's socket and learns its name, node ID and capabilities.
func dial(ctx context.Context, endpoint string) (*Driver, error) {
	conn, err := grpc.NewClient("unix://"+strings.TrimPrefix(endpoint, "unix://"),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	d := &Driver{Endpoint: endpoint, conn: conn, node: csi.NewNodeClient(conn), controller: csi.NewControllerClient(conn)}
	if err := d.learn(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return d, nil
}

func (d *Driver) learn(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	id := csi.NewIdentityClient(d.conn)
	info, err := id.GetPluginInfo(ctx, &csi.GetPluginInfoRequest{})
	if err != nil {
		return fmt.Errorf("GetPluginInfo: %w", err)
	}
	d.Name = info.GetName()
	ni, err := d.node.NodeGetInfo(ctx, &csi.NodeGetInfoRequest{})
	if err != nil {
		return fmt.Errorf("NodeGetInfo: %w", err)
	}
	d.NodeID, d.Topology = ni.GetNodeId(), ni.GetAccessibleTopology().GetSegments()
	nc, err := d.node.NodeGetCapabilities(ctx, &csi.NodeGetCapabilitiesRequest{})
	if err != nil {
		return fmt.Errorf("NodeGetCapabilities: %w", err)
	}
	for _, c := range nc.GetCapabilities() {
		switch c.GetRpc().GetType() {
		case csi.NodeServiceCapability_RPC_STAGE_UNSTAGE_VOLUME:
			d.stage = true
		case csi.NodeServiceCapability_RPC_EXPAND_VOLUME:
			d.nodeExpand = true
		}
	}
	pc, err := id.GetPluginCapabilities(ctx, &csi.GetPluginCapabilitiesRequest{})
	if err != nil {
		return fmt.Errorf("GetPluginCapabilities: %w", err)
	}
	if !slices.ContainsFunc(pc.GetCapabilities(), func(c *csi.PluginCapability) bool {
		return c.GetService().GetType() == csi.PluginCapability_Service_CONTROLLER_SERVICE
	}) {
		return nil
	}
	cc, err := d.controller.ControllerGetCapabilities(ctx, &csi.ControllerGetCapabilitiesRequest{})
	if err != nil {
		return fmt.Errorf("ControllerGetCapabilities: %w", err)
	}
	for _, c := range cc.GetCapabilities() {
		switch c.GetRpc().GetType() {
		case csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME:
			d.provision = true
		case csi.ControllerServiceCapability_RPC_PUBLISH_UNPUBLISH_VOLUME:
			d.publish = true
		case csi.ControllerServiceCapability_RPC_EXPAND_VOLUME:
			d.expand = true
		case csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT:
			d.snapshot = true
		case csi.ControllerServiceCapability_RPC_MODIFY_VOLUME:
			d.modify = true
		}
	}
	return nil
}

func (d *Driver) close() { d.conn.Close() }

// mountCapability is the capability every publish asks for: a mounted filesystem.
func mountCapability(fsType string, mode csi.VolumeCapability_AccessMode_Mode) *csi.VolumeCapability {
	return &csi.VolumeCapability{
		AccessType: &csi.VolumeCapability_Mount{Mount: &csi.VolumeCapability_MountVolume{FsType: fsType}},
		AccessMode: &csi.VolumeCapability_AccessMode{Mode: mode},
	}
}
