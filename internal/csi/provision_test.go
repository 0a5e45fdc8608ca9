package csi

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
)

// slowDriver is a backend that finishes making a volume after its caller gave up:
// the first CreateVolume of a name outlives the call's deadline, and the volume
// exists afterwards; a later call with the same name returns it.
type slowDriver struct {
	expandDriver
	volumes map[string]bool
}

func (f *slowDriver) CreateVolume(ctx context.Context, r *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	f.mu.Lock()
	made := f.volumes[r.Name]
	f.mu.Unlock()
	if !made {
		f.record("create " + r.Name + " (too slow)")
		<-ctx.Done()
		f.mu.Lock()
		f.volumes[r.Name] = true
		f.mu.Unlock()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	f.record("create " + r.Name)
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{VolumeId: r.Name, CapacityBytes: r.CapacityRange.RequiredBytes}}, nil
}

func (f *slowDriver) DeleteVolume(_ context.Context, r *csi.DeleteVolumeRequest) (*csi.DeleteVolumeResponse, error) {
	f.record("delete " + r.VolumeId)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.volumes[r.VolumeId] {
		return nil, status.Errorf(codes.NotFound, "no volume %s", r.VolumeId)
	}
	delete(f.volumes, r.VolumeId)
	return &csi.DeleteVolumeResponse{}, nil
}

// TestVolumeOfDeletedClaimIsDeleted: a CreateVolume that times out leaves the
// claim Pending; when the claim is deleted before a retry, the provisioner asks
// CreateVolume again with the same name and deletes the volume it names, and then
// forgets it. No PersistentVolume is made for the deleted claim.
func TestVolumeOfDeletedClaimIsDeleted(t *testing.T) {
	root := t.TempDir()
	f := &slowDriver{expandDriver: expandDriver{fakeDriver{endpoint: filepath.Join(root, "d.sock")}}, volumes: map[string]bool{}}
	serve(t, f.endpoint, func(s *grpc.Server) {
		csi.RegisterIdentityServer(s, f)
		csi.RegisterNodeServer(s, f)
		csi.RegisterControllerServer(s, f)
	})
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns", UID: "u1"},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("slow"), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
	client := fake.NewClientset(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, pvc,
		&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "slow"}, Provisioner: "fake.csi"})
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
	p.timeout = 200 * time.Millisecond
	c.Informers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), p.claimQueue.HasSynced...) {
		t.Fatal("caches")
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitFor("the CSINode in the cache", func() bool { return p.firstNodeWith("fake.csi") == "n1" })

	if err := p.syncClaim(ctx, "ns/data"); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("first sync: %v, want the CreateVolume deadline", err)
	}
	if err := client.CoreV1().PersistentVolumeClaims("ns").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor("the claim gone from the cache", func() bool {
		_, err := p.claims.PersistentVolumeClaims("ns").Get("data")
		return err != nil
	})
	for range 2 { // the second sync has nothing left to do
		if err := p.syncClaim(ctx, "ns/data"); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"create pvc-u1 (too slow)", "create pvc-u1", "delete pvc-u1"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", f.calls, want)
	}
	if len(f.volumes) != 0 {
		t.Errorf("volumes left in the driver: %v", f.volumes)
	}
	if pvs, _ := client.CoreV1().PersistentVolumes().List(ctx, metav1.ListOptions{}); len(pvs.Items) != 0 {
		t.Errorf("persistent volumes made: %v", pvs.Items)
	}
}
