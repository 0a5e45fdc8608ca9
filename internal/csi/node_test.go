package csi

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
	"k8s.io/utils/ptr"
)

// fakeDriver records the node calls it gets; it stages, and mounts nothing.
type fakeDriver struct {
	csi.UnimplementedIdentityServer
	csi.UnimplementedNodeServer
	csi.UnimplementedControllerServer
	registerapi.UnimplementedRegistrationServer
	endpoint string

	mu    sync.Mutex
	calls []string
}

func (f *fakeDriver) record(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeDriver) GetPluginInfo(context.Context, *csi.GetPluginInfoRequest) (*csi.GetPluginInfoResponse, error) {
	return &csi.GetPluginInfoResponse{Name: "fake.csi"}, nil
}
func (f *fakeDriver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{}, nil
}
func (f *fakeDriver) NodeGetInfo(context.Context, *csi.NodeGetInfoRequest) (*csi.NodeGetInfoResponse, error) {
	return &csi.NodeGetInfoResponse{NodeId: "id-n1", AccessibleTopology: &csi.Topology{Segments: map[string]string{"zone": "z1"}}}, nil
}
func (f *fakeDriver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{Capabilities: []*csi.NodeServiceCapability{{Type: &csi.NodeServiceCapability_Rpc{
		Rpc: &csi.NodeServiceCapability_RPC{Type: csi.NodeServiceCapability_RPC_STAGE_UNSTAGE_VOLUME}}}}}, nil
}
func (f *fakeDriver) NodeStageVolume(_ context.Context, r *csi.NodeStageVolumeRequest) (*csi.NodeStageVolumeResponse, error) {
	f.record("stage " + r.VolumeId)
	return &csi.NodeStageVolumeResponse{}, nil
}
func (f *fakeDriver) NodePublishVolume(_ context.Context, r *csi.NodePublishVolumeRequest) (*csi.NodePublishVolumeResponse, error) {
	f.record("publish " + r.VolumeId + " pod=" + r.VolumeContext[ctxPodName] + " ephemeral=" + r.VolumeContext[ctxEphemeral])
	return &csi.NodePublishVolumeResponse{}, nil
}
func (f *fakeDriver) NodeUnpublishVolume(_ context.Context, r *csi.NodeUnpublishVolumeRequest) (*csi.NodeUnpublishVolumeResponse, error) {
	f.record("unpublish " + r.VolumeId)
	return &csi.NodeUnpublishVolumeResponse{}, nil
}
func (f *fakeDriver) NodeUnstageVolume(_ context.Context, r *csi.NodeUnstageVolumeRequest) (*csi.NodeUnstageVolumeResponse, error) {
	f.record("unstage " + r.VolumeId)
	return &csi.NodeUnstageVolumeResponse{}, nil
}
func (f *fakeDriver) GetInfo(context.Context, *registerapi.InfoRequest) (*registerapi.PluginInfo, error) {
	return &registerapi.PluginInfo{Type: registerapi.CSIPlugin, Name: "fake.csi", Endpoint: f.endpoint, SupportedVersions: []string{"1.0.0"}}, nil
}
func (f *fakeDriver) NotifyRegistrationStatus(context.Context, *registerapi.RegistrationStatus) (*registerapi.RegistrationStatusResponse, error) {
	return &registerapi.RegistrationStatusResponse{}, nil
}

func serve(t *testing.T, path string, register func(*grpc.Server)) {
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	register(s)
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.Stop)
}

// TestRegisterPublishUnpublish: a driver announced in the registration directory
// lands in the node's CSINode; two pods using one volume stage it once, and it is
// unstaged only when the second is gone; an inline volume is published as ephemeral.
func TestRegisterPublishUnpublish(t *testing.T) {
	root := t.TempDir()
	f := &fakeDriver{endpoint: filepath.Join(root, "d.sock")}
	serve(t, f.endpoint, func(s *grpc.Server) {
		csi.RegisterIdentityServer(s, f)
		csi.RegisterNodeServer(s, f)
	})
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}},
		&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "fake.csi"}, Spec: storagev1.CSIDriverSpec{
			AttachRequired: ptr.To(false), PodInfoOnMount: ptr.To(true),
			VolumeLifecycleModes: []storagev1.VolumeLifecycleMode{storagev1.VolumeLifecyclePersistent, storagev1.VolumeLifecycleEphemeral}}})
	n := NewNode(root, "n1", client)
	ctx := context.Background()
	dir := RegistrationDir(root)
	if err := mkdir(dir); err != nil {
		t.Fatal(err)
	}
	serve(t, filepath.Join(dir, "fake.csi-reg.sock"), func(s *grpc.Server) { registerapi.RegisterRegistrationServer(s, f) })
	n.scan(ctx, dir)

	cn, err := client.StorageV1().CSINodes().Get(ctx, "n1", metav1.GetOptions{})
	if err != nil || len(cn.Spec.Drivers) != 1 || cn.Spec.Drivers[0].NodeID != "id-n1" || !slices.Equal(cn.Spec.Drivers[0].TopologyKeys, []string{"zone"}) {
		t.Fatalf("CSINode = %+v, %v", cn, err)
	}
	node, _ := client.CoreV1().Nodes().Get(ctx, "n1", metav1.GetOptions{})
	if node.Labels["zone"] != "z1" {
		t.Errorf("node labels %v: the topology segment is missing", node.Labels)
	}

	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "fake.csi", VolumeHandle: "vol1"}}}}
	a := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", UID: "uid-a"}}
	b := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "b", UID: "uid-b"}}
	for _, p := range []*corev1.Pod{a, b, a} { // a twice: a second sync publishes nothing
		if err := n.PublishVolume(ctx, p, "data", pv, false, filepath.Join(root, string(p.UID), "mount")); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.PublishInline(ctx, a, "scratch", &corev1.CSIVolumeSource{Driver: "fake.csi"}, filepath.Join(root, "inline")); err != nil {
		t.Fatal(err)
	}
	if err := n.Unpublish(ctx, a.UID); err != nil {
		t.Fatal(err)
	}
	if err := n.Unpublish(ctx, b.UID); err != nil {
		t.Fatal(err)
	}
	inline := InlineHandle(a.UID, "scratch")
	want := []string{"stage vol1", "publish vol1 pod=a ephemeral=false", "stage vol1", "publish vol1 pod=b ephemeral=false",
		"publish " + inline + " pod=a ephemeral=true", "unpublish vol1", "unpublish " + inline, "unpublish vol1", "unstage vol1"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", f.calls, want)
	}
}

func mkdir(dir string) error { return os.MkdirAll(dir, 0o750) }
