package persistentvolume_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
	"skiff/internal/controllers/persistentvolume"
	"skiff/internal/localpath"
	"skiff/internal/testserver"
	vb "skiff/internal/volumebinding"
)

// storageCluster is an API server with the PV controller and a local-path
// provisioner for the nodes "n1" and "n2", each with a directory under dir.
type storageCluster struct {
	c   kubernetes.Interface
	dir string
}

func startStorage(t testing.TB) *storageCluster {
	srv := testserver.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cc := controller.NewContext(srv.Client, time.Minute)
	dir := t.TempDir()
	pc := persistentvolume.New(cc)
	prov := localpath.New(cc, func(node string) (string, bool) {
		return filepath.Join(dir, node), node == "n1" || node == "n2"
	})
	cc.Informers.Start(ctx.Done())
	go pc.Run(ctx)
	go prov.Run(ctx)
	for _, n := range []string{"n1", "n2"} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n, Labels: map[string]string{corev1.LabelHostname: n}}}
		if _, err := srv.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	return &storageCluster{c: srv.Client, dir: dir}
}

func newClaim(name string, class *string, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: class, AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}}
}

func eventually(t testing.TB, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var err error
	for time.Now().Before(deadline) {
		if err = cond(); err == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s: %v", what, err)
}

func (s *storageCluster) claim(t testing.TB, ns, name string) *corev1.PersistentVolumeClaim {
	t.Helper()
	c, err := s.c.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (s *storageCluster) waitPhase(t testing.TB, ns, name string, phase corev1.PersistentVolumeClaimPhase) *corev1.PersistentVolumeClaim {
	t.Helper()
	var c *corev1.PersistentVolumeClaim
	eventually(t, fmt.Sprintf("claim %s %s", name, phase), func() error {
		var err error
		c, err = s.c.CoreV1().PersistentVolumeClaims(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && c.Status.Phase != phase {
			err = fmt.Errorf("phase %s", c.Status.Phase)
		}
		return err
	})
	return c
}

func (s *storageCluster) waitVolumePhase(t testing.TB, name string, phase corev1.PersistentVolumePhase) *corev1.PersistentVolume {
	t.Helper()
	var pv *corev1.PersistentVolume
	eventually(t, fmt.Sprintf("volume %s %s", name, phase), func() error {
		var err error
		pv, err = s.c.CoreV1().PersistentVolumes().Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && pv.Status.Phase != phase {
			err = fmt.Errorf("phase %s", pv.Status.Phase)
		}
		return err
	})
	return pv
}

func (s *storageCluster) waitEvent(t testing.TB, ns, name, reason, text string) {
	t.Helper()
	eventually(t, "event "+reason+" on "+name, func() error {
		evs, err := s.c.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
			FieldSelector: fields.OneTermEqualSelector("involvedObject.name", name).String()})
		if err != nil {
			return err
		}
		for _, e := range evs.Items {
			if e.Reason == reason && strings.Contains(e.Message, text) {
				return nil
			}
		}
		return fmt.Errorf("%d events, none %s %q", len(evs.Items), reason, text)
	})
}

func (s *storageCluster) selectNode(t testing.TB, ns, name, node string) {
	t.Helper()
	// As the scheduler does, racing the controller's own writes.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c := s.claim(t, ns, name)
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[vb.AnnSelectedNode] = node
		_, err := s.c.CoreV1().PersistentVolumeClaims(ns).Update(context.Background(), c, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (s *storageCluster) gone(t testing.TB, what string, get func() error) {
	t.Helper()
	eventually(t, what+" gone", func() error {
		if err := get(); !apierrors.IsNotFound(err) {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
}

func createNS(t testing.TB, c kubernetes.Interface, name string) {
	t.Helper()
	if _, err := c.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// TestStorage runs every scenario against one server: starting it is the slow part.
func TestStorage(t *testing.T) {
	s := startStorage(t)
	t.Run("static volume binds", s.testStatic)
	t.Run("static volume of the claim's attributes class", s.testStaticAttributes)
	t.Run("pre-bound volume's attributes class reaches the claim", s.testAttributesClass)
	t.Run("static local volume on the selected node", s.testStaticLocal)
	t.Run("local-path provisions on the selected node and deletes", s.testLocalPath)
	t.Run("retain keeps the directory", s.testRetain)
	t.Run("claim in use is protected", s.testProtection)
	t.Run("unknown provisioner", s.testExternal)
	t.Run("hand-made volume cannot be deleted", s.testFailedDelete)
	t.Run("claim larger than the node", s.testTooLarge)
}

// testAttributesClass: a claim bound to a statically provisioned volume takes the
// volume's attributes class as its current one (quota by class counts it there).
func (s *storageCluster) testAttributesClass(t *testing.T) {
	ctx := context.Background()
	createNS(t, s.c, "vac")
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "vac-gold"},
		Spec: corev1.PersistentVolumeSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			VolumeAttributesClassName: ptr.To("gold"),
			ClaimRef:                  &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: "vac", Name: "data"},
			Capacity:                  corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{ // only CSI volumes carry a class
				Driver: "hostpath.csi.k8s.io", VolumeHandle: "vac-gold"}}}}
	if _, err := s.c.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	claim := newClaim("data", ptr.To(""), "1Gi")
	claim.Spec.VolumeName, claim.Spec.VolumeAttributesClassName = pv.Name, ptr.To("gold")
	if _, err := s.c.CoreV1().PersistentVolumeClaims("vac").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := s.waitPhase(t, "vac", "data", corev1.ClaimBound)
	if got := ptr.Deref(c.Status.CurrentVolumeAttributesClassName, "<nil>"); got != "gold" {
		t.Errorf("bound claim's current attributes class %s, want the volume's gold", got)
	}
}

// testStatic: a claim with class "" binds the smallest fitting free volume, and
// both sides say Bound.
func (s *storageCluster) testStatic(t *testing.T) {
	ctx := context.Background()
	createNS(t, s.c, "static")
	for _, size := range []string{"5Gi", "2Gi", "500Mi"} {
		pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "static-" + strings.ToLower(size)},
			Spec: corev1.PersistentVolumeSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)},
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/static-" + size}}}}
		if _, err := s.c.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.c.CoreV1().PersistentVolumeClaims("static").Create(ctx, newClaim("data", ptr.To(""), "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := s.waitPhase(t, "static", "data", corev1.ClaimBound)
	if c.Spec.VolumeName != "static-2gi" {
		t.Errorf("bound to %s, want the smallest fit static-2gi", c.Spec.VolumeName)
	}
	if got := c.Status.Capacity[corev1.ResourceStorage]; got.String() != "2Gi" {
		t.Errorf("claim capacity %s, want the volume's 2Gi", got.String())
	}
	pv := s.waitVolumePhase(t, "static-2gi", corev1.VolumeBound)
	if pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != c.UID {
		t.Errorf("volume claimRef %+v, want the claim %s", pv.Spec.ClaimRef, c.UID)
	}
	s.waitVolumePhase(t, "static-5gi", corev1.VolumeAvailable)

	// A resizer grows the bound volume: the claim's capacity is the resizer's to
	// change once the filesystem grew too, not the binder's.
	pv.Spec.Capacity[corev1.ResourceStorage] = resource.MustParse("3Gi")
	if _, err := s.c.CoreV1().PersistentVolumes().Update(ctx, pv, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		time.Sleep(50 * time.Millisecond)
		if got := s.claim(t, "static", "data").Status.Capacity[corev1.ResourceStorage]; got.String() != "2Gi" {
			t.Fatalf("claim capacity %s after its bound volume grew, want 2Gi until a resizer finishes", got.String())
		}
	}
}

// testStaticAttributes: a claim that names a VolumeAttributesClass binds only a
// volume of that class (not the smaller one of another), and its status says the
// class is the volume's current one.
func (s *storageCluster) testStaticAttributes(t *testing.T) {
	ctx := context.Background()
	createNS(t, s.c, "static-vac")
	for i, class := range []string{"silver", "gold"} {
		pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "csi-" + class},
			Spec: corev1.PersistentVolumeSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName:          "csi-static",
				VolumeAttributesClassName: ptr.To(class),
				Capacity:                  corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(fmt.Sprintf("%dGi", i+1))},
				PersistentVolumeSource: corev1.PersistentVolumeSource{CSI: &corev1.CSIPersistentVolumeSource{
					Driver: "hostpath.csi.k8s.io", VolumeHandle: class}}}}
		if _, err := s.c.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	claim := newClaim("data", ptr.To("csi-static"), "1Gi")
	claim.Spec.VolumeAttributesClassName = ptr.To("gold")
	if _, err := s.c.CoreV1().PersistentVolumeClaims("static-vac").Create(ctx, claim, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := s.waitPhase(t, "static-vac", "data", corev1.ClaimBound)
	if c.Spec.VolumeName != "csi-gold" || ptr.Deref(c.Status.CurrentVolumeAttributesClassName, "") != "gold" {
		t.Errorf("bound to %s with current class %v, want csi-gold and gold", c.Spec.VolumeName, c.Status.CurrentVolumeAttributesClassName)
	}
	s.waitVolumePhase(t, "csi-silver", corev1.VolumeAvailable)
}

// testStaticLocal: with a WaitForFirstConsumer class that makes no volumes, the
// claim binds the hand-made local volume of the node its pod was placed on.
func (s *storageCluster) testStaticLocal(t *testing.T) {
	ctx := context.Background()
	createNS(t, s.c, "static-local")
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-storage"}, Provisioner: vb.NoProvisioner,
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)}
	if _, err := s.c.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, node := range []string{"n1", "n2"} {
		pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "disk-" + node},
			Spec: corev1.PersistentVolumeSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				StorageClassName:       "local-storage",
				Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
				PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: "/mnt/disk"}},
				NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
					MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}}}}}}}}
		if _, err := s.c.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.c.CoreV1().PersistentVolumeClaims("static-local").Create(ctx, newClaim("data", ptr.To("local-storage"), "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.waitEvent(t, "static-local", "data", "WaitForFirstConsumer", "waiting for first consumer")
	if c := s.claim(t, "static-local", "data"); c.Spec.VolumeName != "" {
		t.Fatalf("bound to %s before a consumer was placed", c.Spec.VolumeName)
	}
	s.selectNode(t, "static-local", "data", "n2")
	if c := s.waitPhase(t, "static-local", "data", corev1.ClaimBound); c.Spec.VolumeName != "disk-n2" {
		t.Errorf("bound to %s, want disk-n2 on the selected node", c.Spec.VolumeName)
	}
}

// testLocalPath: a claim without a class gets local-path, waits for a consumer,
// is provisioned on the selected node, and Delete removes directory and volume.
func (s *storageCluster) testLocalPath(t *testing.T) {
	ctx := context.Background()
	createNS(t, s.c, "lp")
	c, err := s.c.CoreV1().PersistentVolumeClaims("lp").Create(ctx, newClaim("data", nil, "1Gi"), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if vb.ClaimClass(c) != vb.LocalPathClass {
		t.Fatalf("claim class %q, want the default %q", vb.ClaimClass(c), vb.LocalPathClass)
	}
	s.waitEvent(t, "lp", "data", "WaitForFirstConsumer", "waiting for first consumer")
	s.selectNode(t, "lp", "data", "n2")
	c = s.waitPhase(t, "lp", "data", corev1.ClaimBound)
	pv := s.waitVolumePhase(t, c.Spec.VolumeName, corev1.VolumeBound)
	want := filepath.Join(s.dir, "n2", pv.Name)
	if pv.Spec.Local == nil || pv.Spec.Local.Path != want {
		t.Fatalf("volume source %+v, want local %s", pv.Spec.PersistentVolumeSource, want)
	}
	if !vb.Reachable(pv, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{corev1.LabelHostname: "n2"}}}) ||
		vb.Reachable(pv, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{corev1.LabelHostname: "n1"}}}) {
		t.Errorf("volume node affinity %+v does not pin it to n2", pv.Spec.NodeAffinity)
	}
	if _, err := os.Stat(want); err != nil {
		t.Fatalf("volume directory: %v", err)
	}
	if !slices.Contains(pv.Finalizers, vb.PVProtectionFinalizer) || !slices.Contains(s.claim(t, "lp", "data").Finalizers, vb.PVCProtectionFinalizer) {
		t.Errorf("protection finalizers missing: volume %v, claim %v", pv.Finalizers, c.Finalizers)
	}
	if err := s.c.CoreV1().PersistentVolumeClaims("lp").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	s.gone(t, "volume "+pv.Name, func() error {
		_, err := s.c.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		return err
	})
	if _, err := os.Stat(want); !os.IsNotExist(err) {
		t.Errorf("directory %s still there after Delete reclaim: %v", want, err)
	}
}

// testRetain: with reclaimPolicy Retain the volume is Released and its directory kept.
func (s *storageCluster) testRetain(t *testing.T) {
	ctx := context.Background()
	createNS(t, s.c, "retain")
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "keep"}, Provisioner: vb.LocalPathProvisioner,
		ReclaimPolicy: ptr.To(corev1.PersistentVolumeReclaimRetain), VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)}
	if _, err := s.c.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.CoreV1().PersistentVolumeClaims("retain").Create(ctx, newClaim("data", ptr.To("keep"), "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.selectNode(t, "retain", "data", "n1")
	c := s.waitPhase(t, "retain", "data", corev1.ClaimBound)
	if err := s.c.CoreV1().PersistentVolumeClaims("retain").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	pv := s.waitVolumePhase(t, c.Spec.VolumeName, corev1.VolumeReleased)
	if _, err := os.Stat(pv.Spec.Local.Path); err != nil {
		t.Errorf("retained directory: %v", err)
	}
	// An admin frees the retained volume by removing its claimRef.
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := s.c.CoreV1().PersistentVolumes().Get(ctx, pv.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec.ClaimRef = nil
		_, err = s.c.CoreV1().PersistentVolumes().Update(ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.waitVolumePhase(t, pv.Name, corev1.VolumeAvailable)
}

// testProtection: deleting a claim a pod uses waits for the pod.
func (s *storageCluster) testProtection(t *testing.T) {
	ctx := context.Background()
	createNS(t, s.c, "prot")
	if _, err := s.c.CoreV1().PersistentVolumeClaims("prot").Create(ctx, newClaim("data", ptr.To(""), "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "pvc-protection finalizer", func() error {
		if !slices.Contains(s.claim(t, "prot", "data").Finalizers, vb.PVCProtectionFinalizer) {
			return fmt.Errorf("no finalizer")
		}
		return nil
	})
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "user"}, Spec: corev1.PodSpec{NodeName: "n1",
		Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
		Volumes: []corev1.Volume{{Name: "d", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"}}}}}}
	if _, err := s.c.CoreV1().Pods("prot").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.c.CoreV1().PersistentVolumeClaims("prot").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	if c := s.claim(t, "prot", "data"); c.DeletionTimestamp == nil {
		t.Fatal("claim not marked for deletion")
	}
	if err := s.c.CoreV1().Pods("prot").Delete(ctx, "user", metav1.DeleteOptions{GracePeriodSeconds: ptr.To[int64](0)}); err != nil {
		t.Fatal(err)
	}
	s.gone(t, "claim", func() error {
		_, err := s.c.CoreV1().PersistentVolumeClaims("prot").Get(ctx, "data", metav1.GetOptions{})
		return err
	})
}

// testExternal: a class naming a provisioner nothing here runs says so on the claim.
func (s *storageCluster) testExternal(t *testing.T) {
	ctx := context.Background()
	createNS(t, s.c, "ext")
	sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "nobody"}, Provisioner: "example.com/nobody"}
	if _, err := s.c.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.c.CoreV1().PersistentVolumeClaims("ext").Create(ctx, newClaim("data", ptr.To("nobody"), "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.waitEvent(t, "ext", "data", "ExternalProvisioning", `external provisioner "example.com/nobody"`)
	if got := s.claim(t, "ext", "data").Annotations[vb.AnnStorageProvisioner]; got != "example.com/nobody" {
		t.Errorf("storage-provisioner annotation %q", got)
	}
}

// testFailedDelete: Delete on a volume no provisioner made fails it, visibly.
func (s *storageCluster) testFailedDelete(t *testing.T) {
	ctx := context.Background()
	createNS(t, s.c, "faildel")
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "by-hand"},
		Spec: corev1.PersistentVolumeSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			StorageClassName: "manual", PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			Capacity:               corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/tmp/by-hand"}}}}
	if _, err := s.c.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// "manual" is no StorageClass object: a class name may just group hand-made volumes.
	if _, err := s.c.CoreV1().PersistentVolumeClaims("faildel").Create(ctx, newClaim("data", ptr.To("manual"), "1Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.waitPhase(t, "faildel", "data", corev1.ClaimBound)
	if err := s.c.CoreV1().PersistentVolumeClaims("faildel").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	got := s.waitVolumePhase(t, "by-hand", corev1.VolumeFailed)
	if !strings.Contains(got.Status.Message, "no provisioner made this volume") {
		t.Errorf("failed volume message %q", got.Status.Message)
	}
}

// testTooLarge: a claim bigger than the node's free space is refused with an event.
func (s *storageCluster) testTooLarge(t *testing.T) {
	ctx := context.Background()
	createNS(t, s.c, "big")
	if _, err := s.c.CoreV1().PersistentVolumeClaims("big").Create(ctx, newClaim("data", nil, "1Ei"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	s.selectNode(t, "big", "data", "n1")
	s.waitEvent(t, "big", "data", "ProvisioningFailed", "requested 1Ei but")
	if c := s.claim(t, "big", "data"); c.Status.Phase != corev1.ClaimPending {
		t.Errorf("claim %s, want Pending", c.Status.Phase)
	}
}
