package csi

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
)

// expandDriver is the fake driver with a controller service that provisions and
// expands, and a node service that expands.
type expandDriver struct{ fakeDriver }

func (f *expandDriver) GetPluginCapabilities(context.Context, *csi.GetPluginCapabilitiesRequest) (*csi.GetPluginCapabilitiesResponse, error) {
	return &csi.GetPluginCapabilitiesResponse{Capabilities: []*csi.PluginCapability{pluginCapability(csi.PluginCapability_Service_CONTROLLER_SERVICE)}}, nil
}

func pluginCapability(t csi.PluginCapability_Service_Type) *csi.PluginCapability {
	return &csi.PluginCapability{Type: &csi.PluginCapability_Service_{Service: &csi.PluginCapability_Service{Type: t}}}
}

func (f *expandDriver) ControllerGetCapabilities(context.Context, *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	var caps []*csi.ControllerServiceCapability
	for _, t := range []csi.ControllerServiceCapability_RPC_Type{csi.ControllerServiceCapability_RPC_CREATE_DELETE_VOLUME, csi.ControllerServiceCapability_RPC_EXPAND_VOLUME} {
		caps = append(caps, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{Rpc: &csi.ControllerServiceCapability_RPC{Type: t}}})
	}
	return &csi.ControllerGetCapabilitiesResponse{Capabilities: caps}, nil
}

func (f *expandDriver) NodeGetCapabilities(context.Context, *csi.NodeGetCapabilitiesRequest) (*csi.NodeGetCapabilitiesResponse, error) {
	return &csi.NodeGetCapabilitiesResponse{Capabilities: []*csi.NodeServiceCapability{{Type: &csi.NodeServiceCapability_Rpc{
		Rpc: &csi.NodeServiceCapability_RPC{Type: csi.NodeServiceCapability_RPC_EXPAND_VOLUME}}}}}, nil
}

func (f *expandDriver) ControllerExpandVolume(_ context.Context, r *csi.ControllerExpandVolumeRequest) (*csi.ControllerExpandVolumeResponse, error) {
	f.record("controller-expand " + r.VolumeId + " " + resource.NewQuantity(r.CapacityRange.RequiredBytes, resource.BinarySI).String())
	return &csi.ControllerExpandVolumeResponse{CapacityBytes: r.CapacityRange.RequiredBytes, NodeExpansionRequired: true}, nil
}

func (f *expandDriver) NodeExpandVolume(_ context.Context, r *csi.NodeExpandVolumeRequest) (*csi.NodeExpandVolumeResponse, error) {
	f.record("node-expand " + r.VolumeId + " " + r.VolumePath + " " + resource.NewQuantity(r.CapacityRange.RequiredBytes, resource.BinarySI).String())
	return &csi.NodeExpandVolumeResponse{}, nil
}

// TestResizer: a claim asking for more gets ControllerExpandVolume (the volume's
// capacity grows, the claim waits in NodeResizePending with FileSystemResizePending);
// once a pod publishes the volume, NodeExpandVolume runs on its mount and the
// claim's capacity is the new size, with no resize status or condition left.
func TestResizer(t *testing.T) {
	root := t.TempDir()
	f := &expandDriver{fakeDriver{endpoint: filepath.Join(root, "d.sock")}}
	serve(t, f.endpoint, func(s *grpc.Server) {
		csi.RegisterIdentityServer(s, f)
		csi.RegisterNodeServer(s, f)
		csi.RegisterControllerServer(s, f)
	})
	size := func(s string) corev1.ResourceList {
		return corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(s)}
	}
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               size("1Gi"),
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "fake.csi", VolumeHandle: "vol1"}},
		ClaimRef:               &corev1.ObjectReference{Namespace: "ns", Name: "data"}}}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"},
		Spec:   corev1.PersistentVolumeClaimSpec{VolumeName: "pv1", Resources: corev1.VolumeResourceRequirements{Requests: size("2Gi")}},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: size("1Gi")}}
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, pv, pvc,
		&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: "fake.csi"}, Spec: storagev1.CSIDriverSpec{AttachRequired: ptr.To(false)}})
	n := NewNode(root, "n1", client)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := RegistrationDir(root)
	if err := mkdir(dir); err != nil {
		t.Fatal(err)
	}
	serve(t, filepath.Join(dir, "fake.csi-reg.sock"), func(s *grpc.Server) { registerapi.RegisterRegistrationServer(s, f) })
	n.scan(ctx, dir)

	c := controller.NewContext(client, 0)
	p := NewProvisioner(c, n)
	r := NewResizer(c, p)
	c.Informers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), r.q.HasSynced...) {
		t.Fatal("caches")
	}
	claim := func() *corev1.PersistentVolumeClaim {
		got, _ := client.CoreV1().PersistentVolumeClaims("ns").Get(ctx, "data", metav1.GetOptions{})
		return got
	}
	// syncNow waits for the informers to see the latest claim and volume, then syncs.
	syncNow := func() {
		t.Helper()
		want := claim()
		wantPV, _ := client.CoreV1().PersistentVolumes().Get(ctx, "pv1", metav1.GetOptions{})
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			got, err1 := p.claims.PersistentVolumeClaims("ns").Get("data")
			gotPV, err2 := p.volumes.Get("pv1")
			// The fake clientset keeps no resourceVersions: compare what matters.
			if err1 == nil && err2 == nil && apiequality.Semantic.DeepEqual(got.Status, want.Status) && apiequality.Semantic.DeepEqual(gotPV.Spec, wantPV.Spec) {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if err := r.sync(ctx, "ns/data"); err != nil {
			t.Fatal(err)
		}
	}

	syncNow()
	got := claim()
	if st := got.Status.AllocatedResourceStatuses[corev1.ResourceStorage]; st != corev1.PersistentVolumeClaimNodeResizePending {
		t.Fatalf("after the controller: status %q", st)
	}
	if len(got.Status.Conditions) != 1 || got.Status.Conditions[0].Type != corev1.PersistentVolumeClaimFileSystemResizePending {
		t.Errorf("after the controller: conditions %+v", got.Status.Conditions)
	}
	grown, _ := client.CoreV1().PersistentVolumes().Get(ctx, "pv1", metav1.GetOptions{})
	if c := grown.Spec.Capacity[corev1.ResourceStorage]; c.String() != "2Gi" {
		t.Errorf("volume capacity %s", c.String())
	}

	syncNow() // not published here: the node has nothing to do yet
	target := filepath.Join(root, "pod", "mount")
	if err := n.PublishVolume(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "a", UID: "uid-a"}}, "data", grown, false, target); err != nil {
		t.Fatal(err)
	}
	syncNow()
	got = claim()
	if c := got.Status.Capacity[corev1.ResourceStorage]; c.String() != "2Gi" || got.Status.AllocatedResourceStatuses != nil || len(got.Status.Conditions) != 0 {
		t.Errorf("after the node: %+v", got.Status)
	}
	want := []string{"controller-expand vol1 2Gi", "publish vol1 pod= ephemeral=", "node-expand vol1 " + target + " 2Gi"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", f.calls, want)
	}
}
