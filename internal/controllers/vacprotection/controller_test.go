package vacprotection

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/utils/ptr"

	"skiff/internal/controllers/controller"
	"skiff/internal/resources"
)

func class(deleting bool, finalizers ...string) *storagev1.VolumeAttributesClass {
	v := &storagev1.VolumeAttributesClass{ObjectMeta: metav1.ObjectMeta{Name: "silver", Finalizers: finalizers},
		DriverName: "hostpath.csi.k8s.io", Parameters: map[string]string{"iops": "100"}}
	if deleting {
		v.DeletionTimestamp = ptr.To(metav1.Now())
	}
	return v
}

func claim(mut func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "app"}}
	mut(c)
	return c
}

// TestFinalizer: a class keeps its finalizer while deleted only if a claim asks
// for it, has it applied, or is being modified to it, or a volume has it; an
// unused deleted class loses it; a live class without it gets it back.
func TestFinalizer(t *testing.T) {
	fin := resources.VACProtectionFinalizer
	for _, tc := range []struct {
		name string
		vac  *storagev1.VolumeAttributesClass
		objs []runtime.Object
		want []string
	}{
		{"live class gets the finalizer", class(false), nil, []string{fin}},
		{"deleted unused class lets go", class(true, fin, "other"), nil, []string{"other"}},
		{"a claim asks for it", class(true, fin), []runtime.Object{claim(func(c *corev1.PersistentVolumeClaim) {
			c.Spec.VolumeAttributesClassName = ptr.To("silver")
		})}, []string{fin}},
		{"a claim's volume has it", class(true, fin), []runtime.Object{claim(func(c *corev1.PersistentVolumeClaim) {
			c.Spec.VolumeAttributesClassName = ptr.To("gold")
			c.Status.CurrentVolumeAttributesClassName = ptr.To("silver")
		})}, []string{fin}},
		{"a claim is being modified to it", class(true, fin), []runtime.Object{claim(func(c *corev1.PersistentVolumeClaim) {
			c.Spec.VolumeAttributesClassName = ptr.To("gold")
			c.Status.ModifyVolumeStatus = &corev1.ModifyVolumeStatus{TargetVolumeAttributesClassName: "silver"}
		})}, []string{fin}},
		{"a volume has it", class(true, fin), []runtime.Object{&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"},
			Spec: corev1.PersistentVolumeSpec{VolumeAttributesClassName: ptr.To("silver")}}}, []string{fin}},
		{"others' classes do not hold it", class(true, fin), []runtime.Object{claim(func(c *corev1.PersistentVolumeClaim) {
			c.Spec.VolumeAttributesClassName = ptr.To("gold")
			c.Status.CurrentVolumeAttributesClassName = ptr.To("gold")
		})}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset(append(tc.objs, tc.vac)...)
			cc := controller.NewContext(client, time.Minute)
			pc := New(cc)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cc.Informers.Start(ctx.Done())
			cc.Informers.WaitForCacheSync(ctx.Done())
			if err := pc.sync(ctx, "silver"); err != nil {
				t.Fatal(err)
			}
			got, err := client.StorageV1().VolumeAttributesClasses().Get(ctx, "silver", metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Finalizers, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("finalizers (-want +got):\n%s", diff)
			}
		})
	}
}
