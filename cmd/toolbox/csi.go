package main

// csi-hostpath is a small CSI driver for the e2e tests, in the spirit of the
// Kubernetes CSI hostpath driver (whose module the proxy does not serve here): every
// volume is a directory under --state-dir on the node; staging and publishing are
// bind mounts. A volume with a size is a tmpfs of that size mounted on its
// directory, so that df in a pod shows the size and expansion (a remount with the
// new size) shows as a bigger filesystem; the data is in memory and lasts as long as
// the node's mounts. It offers the controller service (create from nothing, a
// snapshot or another volume; delete; publish; expand; modify, see csimodify.go;
// snapshots as tar files) and the node service (stage, publish, expand), and
// reports the node as its topology, so volumes stay on the node that made them.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// topologyKey is the segment the driver reports: volumes are reachable from one node.
const topologyKey = "topology.hostpath.csi/node"

type hostpathDriver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedControllerServer
	csi.UnimplementedNodeServer
	name, node, state string
	// maxSize is the largest volume the driver makes or grows, as the upstream
	// driver's --max-volume-size: asking for more fails with OutOfRange.
	maxSize int64
}

func runCSIHostpath(ctx context.Context, args []string) error {
	fs := newFlags("csi-hostpath")
	endpoint := fs.String("endpoint", "/csi/csi.sock", "unix socket to serve CSI on")
	d := &hostpathDriver{}
	fs.StringVar(&d.name, "drivername", "hostpath.csi.k8s.io", "driver name")
	fs.StringVar(&d.node, "nodeid", os.Getenv("NODE_NAME"), "this node's ID")
	fs.StringVar(&d.state, "state-dir", "/csi-data-dir", "where volumes are kept")
	fs.Int64Var(&d.maxSize, "max-volume-size", 1<<40, "largest volume size in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv := grpc.NewServer()
	csi.RegisterIdentityServer(srv, d)
	csi.RegisterControllerServer(srv, d)
	csi.RegisterNodeServer(srv, d)
	return serveUnix(ctx, srv, *endpoint)
}

// serveUnix serves srv on a fresh unix socket at path until ctx ends.
func serveUnix(ctx context.Context, srv *grpc.Server, path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	_ = os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); srv.Stop() }()
	fmt.Fprintln(os.Stderr, "serving on", path)
	if err := srv.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return err
	}
	return nil
}

func (d *hostpathDriver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: d.name, VendorVersion: "skiff-e2e"}, nil
}

func (d *hostpathDriver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{
		pluginCap(csi.PluginCapability_Service_CONTROLLER_SERVICE),
		pluginCap(csi.PluginCapability_Service_VOLUME_ACCESSIBILITY_CONSTRAINTS),
	}}, nil
}

func pluginCap(t csi.PluginCapability_Service_Type) *csi.PluginCapability {
	return &csi.PluginCapability{Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: t}}}
}

func (d *hostpathDriver) Probe(context.Context, *csi.ProbeRequest) (*csi.ProbeResponse, error) {
	return &csi.ProbeResponse{}, nil
}

func (d *hostpathDriver) volumeDir(id string) (string, error) {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return "", status.Errorf(codes.InvalidArgument, "bad volume id %q", id)
	}
	return filepath.Join(d.state, id), nil
}

func (d *hostpathDriver) topology() []*csi.Topology {
	return []*csi.Topology{{Segments: map[string]string{topologyKey: d.node}}}
}

// failAttachKey is the class parameter, kept in the volume's context, that makes
// ControllerPublishVolume of the volume fail with its value, for tests.
const failAttachKey = "failAttach"

// CreateVolume makes a volume; the class parameters "fail" and "hang" make it fail
// or never answer (until the caller gives up), as a broken backend would, for tests.
func (d *hostpathDriver) CreateVolume(ctx context.Context, req *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	if req.GetParameters()["fail"] != "" {
		return nil, status.Errorf(codes.ResourceExhausted, "asked to fail: %s", req.GetParameters()["fail"])
	}
	if req.GetParameters()["hang"] != "" {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	if err := attributesRefused(req.GetMutableParameters()); err != nil {
		return nil, err
	}
	dir, err := d.volumeDir(req.GetName())
	if err != nil {
		return nil, err
	}
	size := req.GetCapacityRange().GetRequiredBytes()
	if err := d.fits(size); err != nil {
		return nil, err
	}
	if err := makeVolume(dir, size); err != nil {
		return nil, err
	}
	if err := d.populate(dir, req.GetVolumeContentSource()); err != nil {
		return nil, err
	}
	if err := writeAttributes(dir, req.GetMutableParameters()); err != nil {
		return nil, err
	}
	var volumeContext map[string]string
	if why := req.GetParameters()[failAttachKey]; why != "" {
		volumeContext = map[string]string{failAttachKey: why}
	}
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{
		VolumeId: req.GetName(), CapacityBytes: size, ContentSource: req.GetVolumeContentSource(),
		AccessibleTopology: d.topology(), VolumeContext: volumeContext,
	}}, nil
}

// fits refuses a size above the driver's maximum.
func (d *hostpathDriver) fits(size int64) error {
	if size > d.maxSize {
		return status.Errorf(codes.OutOfRange, "requested capacity %d exceeds maximum allowed %d", size, d.maxSize)
	}
	return nil
}

// makeVolume makes a volume's directory, a tmpfs of size bytes when size is set.
func makeVolume(dir string, size int64) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	if size <= 0 || mounted(dir) {
		return nil
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0777", size)); err != nil {
		return status.Errorf(codes.Internal, "mount a tmpfs of %d bytes at %s: %v", size, dir, err)
	}
	return nil
}

// ControllerExpandVolume has nothing to do on the controller side: the node grows
// the tmpfs, which is the volume's filesystem.
func (d *hostpathDriver) ControllerExpandVolume(_ context.Context, req *csi.ControllerExpandVolumeRequest) (*csi.ControllerExpandVolumeResponse, error) {
	dir, err := d.volumeDir(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume %s: %v", req.GetVolumeId(), err)
	}
	if err := d.fits(req.GetCapacityRange().GetRequiredBytes()); err != nil {
		return nil, err
	}
	return &csi.ControllerExpandVolumeResponse{CapacityBytes: req.GetCapacityRange().GetRequiredBytes(), NodeExpansionRequired: true}, nil
}

// NodeExpandVolume remounts the volume's tmpfs with the new size; every bind mount
// of it (staging, the pods' targets) sees the bigger filesystem at once.
func (d *hostpathDriver) NodeExpandVolume(_ context.Context, req *csi.NodeExpandVolumeRequest) (*csi.NodeExpandVolumeResponse, error) {
	dir, err := d.volumeDir(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	size := req.GetCapacityRange().GetRequiredBytes()
	if !mounted(dir) {
		return nil, status.Errorf(codes.FailedPrecondition, "volume %s has no filesystem of its own to grow", req.GetVolumeId())
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT, fmt.Sprintf("size=%d", size)); err != nil {
		return nil, status.Errorf(codes.Internal, "grow %s to %d bytes: %v", dir, size, err)
	}
	return &csi.NodeExpandVolumeResponse{CapacityBytes: size}, nil
}

func (d *hostpathDriver) DeleteVolume(_ context.Context, req *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	dir, err := d.volumeDir(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if mounted(dir) {
		if err := unix.Unmount(dir, 0); err != nil {
			return nil, status.Errorf(codes.Internal, "unmount %s: %v", dir, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.DeleteVolumeResponse{}, nil
}

func (d *hostpathDriver) ControllerPublishVolume(_ context.Context, req *csi.ControllerPublishVolumeRequest) (*csi.ControllerPublishVolumeResponse, error) {
	dir, err := d.volumeDir(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume %s: %v", req.GetVolumeId(), err)
	}
	if req.GetNodeId() != d.node {
		return nil, status.Errorf(codes.NotFound, "node %q: this driver's volumes stay on %q", req.GetNodeId(), d.node)
	}
	if why := req.GetVolumeContext()[failAttachKey]; why != "" {
		return nil, status.Errorf(codes.Unavailable, "asked to fail attaching: %s", why)
	}
	return &csi.ControllerPublishVolumeResponse{PublishContext: map[string]string{"attached-to": d.node}}, nil
}

func (d *hostpathDriver) ControllerUnpublishVolume(context.Context, *csi.ControllerUnpublishVolumeRequest) (*csi.ControllerUnpublishVolumeResponse, error) {
	return &csi.ControllerUnpublishVolumeResponse{}, nil
}

func (d *hostpathDriver) ValidateVolumeCapabilities(_ context.Context, req *csi.ValidateVolumeCapabilitiesRequest) (*csi.ValidateVolumeCapabilitiesResponse, error) {
	return &csi.ValidateVolumeCapabilitiesResponse{Confirmed: &csi.ValidateVolumeCapabilitiesResponse_Confirmed{
		VolumeCapabilities: req.GetVolumeCapabilities()}}, nil
}

func (d *hostpathDriver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, t := range []csi.ControllerServiceCapability_RPC_Type{
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME,
		csi.ControllerServiceCapability_RPC_PUBLISH_UNPUBLISH_VOLUME,
		csi.ControllerServiceCapability_RPC_EXPAND_VOLUME,
		csi.ControllerServiceCapability_RPC_CREATE_DELETE_SNAPSHOT,
		csi.ControllerServiceCapability_RPC_CLONE_VOLUME,
		csi.ControllerServiceCapability_RPC_MODIFY_VOLUME,
	} {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{
			Rpc: &csi.ControllerServiceCapability_RPC{Type: t}}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

func (d *hostpathDriver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: d.node, MaxVolumesPerNode: 100,
		AccessibleTopology: d.topology()[0]}, nil
}

func (d *hostpathDriver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	var caps []*csi.NodeServiceCapability
	for _, t := range []csi.NodeServiceCapability_RPC_Type{
		csi.NodeServiceCapability_RPC_STAGE_UNSTAGE_VOLUME,
		csi.NodeServiceCapability_RPC_EXPAND_VOLUME,
	} {
		caps = append(caps, &csi.NodeServiceCapability{Type: &csi.NodeServiceCapability_Rpc{
			Rpc: &csi.NodeServiceCapability_RPC{Type: t}}})
	}
	return &csi.NodeGetCapabilitiesResponse{Capabilities: caps}, nil
}

func (d *hostpathDriver) NodeStageVolume(_ context.Context, req *csi.NodeStageVolumeRequest) (*csi.NodeStageVolumeResponse, error) {
	dir, err := d.volumeDir(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume %s: %v", req.GetVolumeId(), err)
	}
	return &csi.NodeStageVolumeResponse{}, bindMount(dir, req.GetStagingTargetPath(), false)
}

func (d *hostpathDriver) NodeUnstageVolume(_ context.Context, req *csi.NodeUnstageVolumeRequest) (*csi.NodeUnstageVolumeResponse, error) {
	return &csi.NodeUnstageVolumeResponse{}, unmount(req.GetStagingTargetPath())
}

// NodePublishVolume binds the staged volume to the pod's target; an inline
// (ephemeral) volume is made here, as it never went through CreateVolume.
func (d *hostpathDriver) NodePublishVolume(_ context.Context, req *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	src := req.GetStagingTargetPath()
	if req.GetVolumeContext()["csi.storage.k8s.io/ephemeral"] == "true" {
		dir, err := d.volumeDir("inline-" + req.GetVolumeId())
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		src = dir
	}
	if src == "" {
		return nil, status.Error(codes.FailedPrecondition, "volume not staged")
	}
	return &csi.NodePublishVolumeResponse{}, bindMount(src, req.GetTargetPath(), req.GetReadonly())
}

func (d *hostpathDriver) NodeUnpublishVolume(_ context.Context, req *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	if err := unmount(req.GetTargetPath()); err != nil {
		return nil, err
	}
	if dir, err := d.volumeDir("inline-" + req.GetVolumeId()); err == nil {
		_ = os.RemoveAll(dir)
	}
	return &csi.NodeUnpublishVolumeResponse{}, nil
}

// bindMount mounts src at dst unless something is mounted there already.
func bindMount(src, dst string, readOnly bool) error {
	if dst == "" {
		return status.Error(codes.InvalidArgument, "no target path")
	}
	if err := os.MkdirAll(dst, 0o750); err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	if mounted(dst) {
		return nil
	}
	if err := unix.Mount(src, dst, "", unix.MS_BIND, ""); err != nil {
		return status.Errorf(codes.Internal, "bind %s at %s: %v", src, dst, err)
	}
	if readOnly {
		if err := unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return status.Errorf(codes.Internal, "read-only %s: %v", dst, err)
		}
	}
	return nil
}

func unmount(dst string) error {
	if dst == "" {
		return status.Error(codes.InvalidArgument, "no target path")
	}
	if mounted(dst) {
		if err := unix.Unmount(dst, 0); err != nil {
			return status.Errorf(codes.Internal, "unmount %s: %v", dst, err)
		}
	}
	if err := os.Remove(dst); err != nil && !os.IsNotExist(err) {
		return status.Error(codes.Internal, err.Error())
	}
	return nil
}

// mounted says whether dst is a mount point, from /proc/self/mountinfo.
func mounted(dst string) bool {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) > 4 && f[4] == filepath.Clean(dst) {
			return true
		}
	}
	return false
}
