package localpath

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	vb "skiff/internal/volumebinding"
)

func claimOf(size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns", UID: "u1"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}}}
}

// TestOwns: the provisioner removes only directories it made, for nodes it
// serves, inside their directory; a volume that merely claims the provisioner's
// name but points elsewhere is never touched.
func TestOwns(t *testing.T) {
	p := &Provisioner{dirs: OneNode("n1", "/data/local-path")}
	made := newVolume(claimOf("1Gi"), "n1", "/data/local-path", "local-path", nil, nil)
	for _, tc := range []struct {
		name string
		mut  func(pv *corev1.PersistentVolume)
		want bool
	}{
		{"made here", func(*corev1.PersistentVolume) {}, true},
		{"another provisioner", func(pv *corev1.PersistentVolume) { pv.Annotations[vb.AnnProvisionedBy] = "example.com/x" }, false},
		{"another node", func(pv *corev1.PersistentVolume) { pv.Spec.NodeAffinity.Required = nodeSelector("n2") }, false},
		{"outside the directory", func(pv *corev1.PersistentVolume) { pv.Spec.Local.Path = "/etc/pvc-u1" }, false},
		{"the directory itself", func(pv *corev1.PersistentVolume) { pv.Spec.Local.Path = "/data/local-path" }, false},
		{"escaping with ..", func(pv *corev1.PersistentVolume) { pv.Spec.Local.Path = "/data/local-path/pvc-x/../../etc" }, false},
		{"not a volume directory", func(pv *corev1.PersistentVolume) { pv.Spec.Local.Path = "/data/local-path/other" }, false},
		{"hostPath", func(pv *corev1.PersistentVolume) {
			pv.Spec.Local = nil
			pv.Spec.HostPath = &corev1.HostPathVolumeSource{Path: "/data/local-path/pvc-u1"}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pv := made.DeepCopy()
			tc.mut(pv)
			if got := p.owns(pv); got != tc.want {
				t.Errorf("owns = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestRefuse: what the provisioner will not make, with the reason the claim shows.
func TestRefuse(t *testing.T) {
	p := &Provisioner{free: func(string) (int64, error) { return 2 << 30, nil }}
	dir := t.TempDir()
	block := claimOf("1Gi")
	block.Spec.VolumeMode = ptr.To(corev1.PersistentVolumeBlock)
	fromSnapshot := claimOf("1Gi")
	fromSnapshot.Spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "VolumeSnapshot", Name: "s"}
	gold := claimOf("1Gi")
	gold.Spec.VolumeAttributesClassName = ptr.To("gold")
	for _, tc := range []struct {
		name string
		pvc  *corev1.PersistentVolumeClaim
		want string
	}{
		{"fits", claimOf("2Gi"), ""},
		{"too large", claimOf("3Gi"), "requested 3Gi but " + dir + " has only 2Gi free"},
		{"block", block, "local-path volumes are directories: volumeMode Block is not supported"},
		{"data source", fromSnapshot, "local-path volumes cannot be populated from a data source"},
		{"attributes class", gold, `VolumeAttributesClass "gold": only CSI drivers apply volume attributes, local-path volumes have none`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := p.refuse(tc.pvc, dir); got != tc.want {
				t.Errorf("refuse = %q, want %q", got, tc.want)
			}
		})
	}
}
