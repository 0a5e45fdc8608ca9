package csi

import (
	"context"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/cache"
	registerapi "k8s.io/kubelet/pkg/apis/pluginregistration/v1"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
)

// modifyDriver is the fake driver that also modifies volumes (when modify is set):
// a "fail" parameter of "invalid" is refused for good, any other "fail" for now.
type modifyDriver struct {
	expandDriver
	modify bool
}

func (f *modifyDriver) ControllerGetCapabilities(ctx context.Context, r *csi.ControllerGetCapabilitiesRequest) (*csi.ControllerGetCapabilitiesResponse, error) {
	resp, _ := f.expandDriver.ControllerGetCapabilities(ctx, r)
	if f.modify {
		resp.Capabilities = append(resp.Capabilities, &csi.ControllerServiceCapability{Type: &csi.ControllerServiceCapability_Rpc{
			Rpc: &csi.ControllerServiceCapability_RPC{Type: csi.ControllerServiceCapability_RPC_MODIFY_VOLUME}}})
	}
	return resp, nil
}

func params(m map[string]string) string {
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		kv = append(kv, k+"="+m[k])
	}
	return strings.Join(kv, ",")
}

func (f *modifyDriver) CreateVolume(_ context.Context, r *csi.CreateVolumeRequest) (*csi.CreateVolumeResponse, error) {
	f.record("create " + r.Name + " " + params(r.MutableParameters))
	return &csi.CreateVolumeResponse{Volume: &csi.Volume{VolumeId: r.Name, CapacityBytes: r.CapacityRange.RequiredBytes}}, nil
}

func (f *modifyDriver) ControllerModifyVolume(_ context.Context, r *csi.ControllerModifyVolumeRequest) (*csi.ControllerModifyVolumeResponse, error) {
	f.record("modify " + r.VolumeId + " " + params(r.MutableParameters))
	switch why := r.MutableParameters["fail"]; why {
	case "":
		return &csi.ControllerModifyVolumeResponse{}, nil
	case "invalid":
		return nil, status.Error(codes.InvalidArgument, "asked to fail: invalid")
	default:
		return nil, status.Errorf(codes.Unavailable, "asked to fail: %s", why)
	}
}

func vacOf(name, driver string, kv ...string) *storagev1.VolumeAttributesClass {
	v := &storagev1.VolumeAttributesClass{ObjectMeta: metav1.ObjectMeta{Name: name}, DriverName: driver, Parameters: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Parameters[kv[i]] = kv[i+1]
	}
	return v
}

// modifyEnv is a node with the fake driver registered, the given objects, and its
// provisioner and modifier on informers that are in sync.
type modifyEnv struct {
	client *fake.Clientset
	f      *modifyDriver
	p      *Provisioner
	m      *Modifier
}

func startModifyEnv(t *testing.T, modify bool, objs ...runtime.Object) *modifyEnv {
	root := t.TempDir()
	f := &modifyDriver{expandDriver: expandDriver{fakeDriver{endpoint: filepath.Join(root, "d.sock")}}, modify: modify}
	serve(t, f.endpoint, func(s *grpc.Server) {
		csi.RegisterIdentityServer(s, f)
		csi.RegisterNodeServer(s, f)
		csi.RegisterControllerServer(s, f)
	})
	objs = append(objs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}},
		vacOf("silver", "fake.csi", "iops", "100"), vacOf("gold", "fake.csi", "iops", "500"),
		vacOf("broken", "fake.csi", "fail", "invalid"), vacOf("flaky", "fake.csi", "fail", "busy"),
		vacOf("foreign", "other.csi", "iops", "1"))
	client := fake.NewClientset(objs...)
	n := NewNode(root, "n1", client)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := RegistrationDir(root)
	if err := mkdir(dir); err != nil {
		t.Fatal(err)
	}
	serve(t, filepath.Join(dir, "fake.csi-reg.sock"), func(s *grpc.Server) { registerapi.RegisterRegistrationServer(s, f) })
	n.scan(ctx, dir)
	c := controller.NewContext(client, 0)
	e := &modifyEnv{client: client, f: f, p: NewProvisioner(c, n)}
	e.m = NewModifier(c, e.p)
	c.Informers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), e.m.q.HasSynced...) || !cache.WaitForCacheSync(ctx.Done(), e.p.claimQueue.HasSynced...) {
		t.Fatal("caches")
	}
	e.waitCache(t, "the CSINode", func() bool { return e.p.firstNodeWith("fake.csi") == "n1" })
	return e
}

func (e *modifyEnv) waitCache(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s in the cache", what)
		}
	}
}

func (e *modifyEnv) claim(t *testing.T) *corev1.PersistentVolumeClaim {
	t.Helper()
	c, err := e.client.CoreV1().PersistentVolumeClaims("ns").Get(context.Background(), "data", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// syncClaim waits for the caches to hold the live claim and volumes, then syncs
// the claim with sync.
func (e *modifyEnv) syncClaim(t *testing.T, sync func(context.Context, string) error) error {
	t.Helper()
	want := e.claim(t)
	pvs, _ := e.client.CoreV1().PersistentVolumes().List(context.Background(), metav1.ListOptions{})
	e.waitCache(t, "the claim and volumes", func() bool {
		got, err := e.p.claims.PersistentVolumeClaims("ns").Get("data")
		if err != nil || !apiequality.Semantic.DeepEqual(got.Spec, want.Spec) || !apiequality.Semantic.DeepEqual(got.Status, want.Status) {
			return false
		}
		for _, pv := range pvs.Items {
			if got, err := e.p.volumes.Get(pv.Name); err != nil || !apiequality.Semantic.DeepEqual(got.Spec, pv.Spec) {
				return false
			}
		}
		return true
	})
	return sync(context.Background(), "ns/data")
}

// setClass points the claim at class, as `kubectl patch` would.
func (e *modifyEnv) setClass(t *testing.T, class string) {
	t.Helper()
	c := e.claim(t)
	c.Spec.VolumeAttributesClassName = ptr.To(class)
	if _, err := e.client.CoreV1().PersistentVolumeClaims("ns").Update(context.Background(), c, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// modifyState is what a user reads: the claim's current class, its
// modifyVolumeStatus (target/status) and modify condition, and the volume's class.
func (e *modifyEnv) modifyState(t *testing.T) string {
	t.Helper()
	c := e.claim(t)
	pv, err := e.client.CoreV1().PersistentVolumes().Get(context.Background(), "pv1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := "current=" + ptr.Deref(c.Status.CurrentVolumeAttributesClassName, "") + " pv=" + ptr.Deref(pv.Spec.VolumeAttributesClassName, "")
	if m := c.Status.ModifyVolumeStatus; m != nil {
		s += fmt.Sprintf(" modify=%s/%s", m.TargetVolumeAttributesClassName, m.Status)
	}
	for _, cond := range c.Status.Conditions {
		s += fmt.Sprintf(" %s:%s", cond.Type, cond.Message)
	}
	return s
}

// TestModifier: a bound claim that names another class has its volume modified
// with that class's parameters, then says so (current class, the volume's class);
// a class the driver refuses for good is Infeasible and not asked again; one it
// refuses for now stays InProgress with the error and is retried; a class not
// there yet is Pending; a class of another driver is Infeasible; naming the
// current class again drops what was pending.
func TestModifier(t *testing.T) {
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:                  corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		VolumeAttributesClassName: ptr.To("silver"),
		PersistentVolumeSource:    corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "fake.csi", VolumeHandle: "vol1"}},
		ClaimRef:                  &corev1.ObjectReference{Namespace: "ns", Name: "data"}}}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"},
		Spec:   corev1.PersistentVolumeClaimSpec{VolumeName: "pv1", VolumeAttributesClassName: ptr.To("gold")},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, CurrentVolumeAttributesClassName: ptr.To("silver")}}
	e := startModifyEnv(t, true, pv, pvc)

	steps := []struct {
		class   string // the claim's new class, "" to leave it
		wantErr bool
		want    string
	}{
		{"", false, "current=gold pv=gold"},
		{"broken", false, "current=gold pv=gold modify=broken/Infeasible ModifyVolumeError:ControllerModifyVolume of volume pv1 to broken: rpc error: code = InvalidArgument desc = asked to fail: invalid"},
		{"", false, "current=gold pv=gold modify=broken/Infeasible ModifyVolumeError:ControllerModifyVolume of volume pv1 to broken: rpc error: code = InvalidArgument desc = asked to fail: invalid"},
		{"flaky", true, "current=gold pv=gold modify=flaky/InProgress ModifyVolumeError:ControllerModifyVolume of volume pv1 to flaky: rpc error: code = Unavailable desc = asked to fail: busy. Waiting for retry."},
		{"", true, "current=gold pv=gold modify=flaky/InProgress ModifyVolumeError:ControllerModifyVolume of volume pv1 to flaky: rpc error: code = Unavailable desc = asked to fail: busy. Waiting for retry."},
		{"platinum", false, "current=gold pv=gold modify=platinum/Pending"},
		{"foreign", false, `current=gold pv=gold modify=foreign/Infeasible ModifyVolumeError:VolumeAttributesClass "foreign" is for driver "other.csi", not the volume's driver "fake.csi"`},
		{"gold", false, "current=gold pv=gold"},
		{"silver", false, "current=silver pv=silver"},
	}
	for i, s := range steps {
		if s.class != "" {
			e.setClass(t, s.class)
		}
		if err := e.syncClaim(t, e.m.sync); (err != nil) != s.wantErr {
			t.Fatalf("step %d (%s): sync error %v", i, s.class, err)
		}
		if got := e.modifyState(t); got != s.want {
			t.Fatalf("step %d (%s):\n got %s\nwant %s", i, s.class, got, s.want)
		}
	}
	want := []string{"modify vol1 iops=500", "modify vol1 fail=invalid", "modify vol1 fail=busy", "modify vol1 fail=busy", "modify vol1 iops=100"}
	if got := e.f.calls; !slices.Equal(got, want) {
		t.Errorf("driver calls\n got %q\nwant %q", got, want)
	}
}

// TestModifierWithoutCapability: a driver that cannot modify volumes is never
// asked to; the claim says why.
func TestModifierWithoutCapability(t *testing.T) {
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv1"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
		PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{Driver: "fake.csi", VolumeHandle: "vol1"}},
		ClaimRef:               &corev1.ObjectReference{Namespace: "ns", Name: "data"}}}
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"},
		Spec:   corev1.PersistentVolumeClaimSpec{VolumeName: "pv1", VolumeAttributesClassName: ptr.To("gold")},
		Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}}
	e := startModifyEnv(t, false, pv, pvc)
	if err := e.syncClaim(t, e.m.sync); err != nil {
		t.Fatal(err)
	}
	want := `current= pv= modify=gold/Infeasible ModifyVolumeError:CSI driver "fake.csi" cannot modify volumes (it has no MODIFY_VOLUME capability)`
	if got := e.modifyState(t); got != want {
		t.Errorf("\n got %s\nwant %s", got, want)
	}
	if len(e.f.calls) != 0 {
		t.Errorf("driver calls %q", e.f.calls)
	}
}

// TestProvisionVAC: CreateVolume gets the claim's class as its
// mutable parameters and the volume records the class; a claim whose class is
// missing, or of another driver, is not provisioned.
func TestProvisionVAC(t *testing.T) {
	for _, tc := range []struct {
		name, class, wantCall, wantPVClass string
	}{
		{"gold", "gold", "create pvc-u1 iops=500", "gold"},
		{"none", "", "create pvc-u1 ", ""},
		{"missing", "platinum", "", ""},
		{"foreign", "foreign", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns", UID: "u1"},
				Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("csi"), AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
					Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}}}
			if tc.class != "" {
				pvc.Spec.VolumeAttributesClassName = ptr.To(tc.class)
			}
			e := startModifyEnv(t, true, pvc, &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "csi"}, Provisioner: "fake.csi"})
			if err := e.syncClaim(t, e.p.syncClaim); err != nil {
				t.Fatal(err)
			}
			var calls []string
			if tc.wantCall != "" {
				calls = []string{tc.wantCall}
			}
			if !slices.Equal(e.f.calls, calls) {
				t.Errorf("driver calls %q, want %q", e.f.calls, calls)
			}
			pv, err := e.client.CoreV1().PersistentVolumes().Get(context.Background(), "pvc-u1", metav1.GetOptions{})
			if (err == nil) != (tc.wantCall != "") {
				t.Fatalf("volume made: %v, want %v", err == nil, tc.wantCall != "")
			}
			if err == nil && ptr.Deref(pv.Spec.VolumeAttributesClassName, "") != tc.wantPVClass {
				t.Errorf("volume class %v, want %q", pv.Spec.VolumeAttributesClassName, tc.wantPVClass)
			}
		})
	}
}
