package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/ptr"
)

func rtVAC() *storagev1.VolumeAttributesClass {
	return &storagev1.VolumeAttributesClass{ObjectMeta: metav1.ObjectMeta{Name: "gold", ResourceVersion: "3"},
		DriverName: "hostpath.csi.k8s.io", Parameters: map[string]string{"iops": "3000"}}
}

func TestVACCreate(t *testing.T) {
	tests := []struct {
		name string
		vac  *storagev1.VolumeAttributesClass
		want []rtErr
	}{
		{"valid", rtVAC(), nil},
		{"no driver, no parameters", &storagev1.VolumeAttributesClass{ObjectMeta: metav1.ObjectMeta{Name: "x"}},
			[]rtErr{{field.ErrorTypeRequired, "driverName"}, {field.ErrorTypeRequired, "parameters"}}},
		{"bad driver name", func() *storagev1.VolumeAttributesClass {
			v := rtVAC()
			v.DriverName = "not a driver"
			return v
		}(), []rtErr{{field.ErrorTypeInvalid, "driverName"}}},
		{"empty parameter key", func() *storagev1.VolumeAttributesClass {
			v := rtVAC()
			v.Parameters[""] = "x"
			return v
		}(), []rtErr{{field.ErrorTypeInvalid, "parameters"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := rtCreate(vacStrategy{}, tt.vac)
			if diff := cmp.Diff(tt.want, rtErrs(errs)); diff != "" {
				t.Fatalf("(-want +got):\n%s\n%v", diff, errs)
			}
			if got := tt.vac.Finalizers; !cmp.Equal(got, []string{VACProtectionFinalizer}) {
				t.Errorf("finalizers = %v, want the protection finalizer", got)
			}
		})
	}
}

// boundPVC is a claim bound to a volume, with class current applied to it.
func boundPVC(spec, current *string) *corev1.PersistentVolumeClaim {
	p := rtPVC()
	p.Spec.VolumeName = "pv1"
	p.Spec.VolumeAttributesClassName = spec
	p.Status.Phase = corev1.ClaimBound
	p.Status.CurrentVolumeAttributesClassName = current
	return p
}

func TestVACUpdates(t *testing.T) {
	csiPV := func() *corev1.PersistentVolume {
		pv := rtPV()
		pv.Spec.HostPath = nil
		pv.Spec.CSI = &corev1.CSIPersistentVolumeSource{Driver: "hostpath.csi.k8s.io", VolumeHandle: "v1"}
		pv.Spec.VolumeAttributesClassName = ptr.To("silver")
		return pv
	}
	tests := []struct {
		name     string
		strategy Strategy
		old      runtime.Object
		mutate   func(runtime.Object)
		want     []rtErr
	}{
		{"class parameters", vacStrategy{}, rtVAC(),
			func(o runtime.Object) { o.(*storagev1.VolumeAttributesClass).Parameters["iops"] = "9000" },
			[]rtErr{{field.ErrorTypeForbidden, "parameters"}}},
		{"class driver", vacStrategy{}, rtVAC(),
			func(o runtime.Object) { o.(*storagev1.VolumeAttributesClass).DriverName = "other.csi.io" },
			[]rtErr{{field.ErrorTypeForbidden, "driverName"}}},
		{"class labels", vacStrategy{}, rtVAC(),
			func(o runtime.Object) { o.(*storagev1.VolumeAttributesClass).Labels = map[string]string{"a": "b"} }, nil},
		{"bound claim moves to another class", pvcStrategy{}, boundPVC(ptr.To("silver"), ptr.To("silver")),
			func(o runtime.Object) {
				o.(*corev1.PersistentVolumeClaim).Spec.VolumeAttributesClassName = ptr.To("gold")
			}, nil},
		{"bound claim drops its class", pvcStrategy{}, boundPVC(ptr.To("silver"), ptr.To("silver")),
			func(o runtime.Object) { o.(*corev1.PersistentVolumeClaim).Spec.VolumeAttributesClassName = nil },
			[]rtErr{{field.ErrorTypeForbidden, "spec.volumeAttributesClassName"}}},
		{"bound claim empties its class", pvcStrategy{}, boundPVC(ptr.To("silver"), ptr.To("silver")),
			func(o runtime.Object) { o.(*corev1.PersistentVolumeClaim).Spec.VolumeAttributesClassName = ptr.To("") },
			[]rtErr{{field.ErrorTypeForbidden, "spec.volumeAttributesClassName"}}},
		{"bound claim drops a class never applied", pvcStrategy{}, boundPVC(ptr.To("silver"), nil),
			func(o runtime.Object) { o.(*corev1.PersistentVolumeClaim).Spec.VolumeAttributesClassName = nil }, nil},
		{"bound claim names a bad class", pvcStrategy{}, boundPVC(nil, nil),
			func(o runtime.Object) {
				o.(*corev1.PersistentVolumeClaim).Spec.VolumeAttributesClassName = ptr.To("Gold!")
			},
			[]rtErr{{field.ErrorTypeInvalid, "spec.volumeAttributesClassName"}}},
		{"unbound claim changes class", pvcStrategy{}, func() runtime.Object {
			p := rtPVC()
			p.Spec.VolumeAttributesClassName = ptr.To("silver")
			return p
		}(), func(o runtime.Object) {
			o.(*corev1.PersistentVolumeClaim).Spec.VolumeAttributesClassName = ptr.To("gold")
		},
			[]rtErr{{field.ErrorTypeForbidden, "spec"}}},
		{"volume moves to another class", pvStrategy{}, csiPV(),
			func(o runtime.Object) { o.(*corev1.PersistentVolume).Spec.VolumeAttributesClassName = ptr.To("gold") }, nil},
		{"volume drops its class", pvStrategy{}, csiPV(),
			func(o runtime.Object) { o.(*corev1.PersistentVolume).Spec.VolumeAttributesClassName = nil },
			[]rtErr{{field.ErrorTypeForbidden, "spec.volumeAttributesClassName"}}},
		{"hostPath volume takes a class", pvStrategy{}, rtPV(),
			func(o runtime.Object) { o.(*corev1.PersistentVolume).Spec.VolumeAttributesClassName = ptr.To("gold") },
			[]rtErr{{field.ErrorTypeRequired, "spec.csi"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.strategy.Default(tt.old)
			obj := tt.old.DeepCopyObject()
			tt.mutate(obj)
			errs := rtUpdate(tt.strategy, obj, tt.old, "")
			if diff := cmp.Diff(tt.want, rtErrs(errs)); diff != "" {
				t.Fatalf("(-want +got):\n%s\n%v", diff, errs)
			}
		})
	}
}

func TestVACNotInert(t *testing.T) {
	for _, info := range All() {
		if info.Resource == "volumeattributesclasses" && info.Inert != "" {
			t.Errorf("VolumeAttributesClass writes warn %q; the CSI provisioner and modifier act on them", info.Inert)
		}
	}
}
