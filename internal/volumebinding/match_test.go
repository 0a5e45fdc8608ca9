package volumebinding

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func claim(size string, class *string, modes ...corev1.PersistentVolumeAccessMode) *corev1.PersistentVolumeClaim {
	if len(modes) == 0 {
		modes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}
	}
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns", UID: "claim-uid"},
		Spec: corev1.PersistentVolumeClaimSpec{AccessModes: modes, StorageClassName: class,
			Resources: corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}}},
	}
}

func volume(name, size, class string, mut ...func(*corev1.PersistentVolume)) *corev1.PersistentVolume {
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"tier": "fast"}},
		Spec: corev1.PersistentVolumeSpec{StorageClassName: class,
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany},
			Capacity:    corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumeAvailable},
	}
	for _, m := range mut {
		m(pv)
	}
	return pv
}

func onNode(name string) func(*corev1.PersistentVolume) {
	return func(pv *corev1.PersistentVolume) {
		pv.Spec.NodeAffinity = &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
			MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{name}}}}}}}
	}
}

func node(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{corev1.LabelHostname: name}}}
}

// TestMismatch: each rule the binder applies, one row each, with the reason a
// user would read in an event.
func TestMismatch(t *testing.T) {
	block := corev1.PersistentVolumeBlock
	for _, tc := range []struct {
		name string
		pvc  *corev1.PersistentVolumeClaim
		pv   *corev1.PersistentVolume
		node *corev1.Node
		want string
	}{
		{"fits", claim("1Gi", nil), volume("a", "1Gi", ""), nil, ""},
		{"bigger fits", claim("1Gi", nil), volume("a", "5Gi", ""), nil, ""},
		{"too small", claim("2Gi", nil), volume("a", "1Gi", ""), nil, `capacity 1Gi is less than the requested 2Gi`},
		{"class differs", claim("1Gi", ptr.To("fast")), volume("a", "1Gi", "slow"), nil, `storageClassName "slow" does not match the claim's "fast"`},
		{"no class wants no class", claim("1Gi", nil), volume("a", "1Gi", "fast"), nil, `storageClassName "fast" does not match the claim's ""`},
		{"access mode missing", claim("1Gi", nil, corev1.ReadWriteMany), volume("a", "1Gi", ""), nil, "access mode ReadWriteMany is not offered"},
		{"access mode subset", claim("1Gi", nil, corev1.ReadOnlyMany), volume("a", "1Gi", ""), nil, ""},
		{"volume mode", func() *corev1.PersistentVolumeClaim { c := claim("1Gi", nil); c.Spec.VolumeMode = &block; return c }(),
			volume("a", "1Gi", ""), nil, "volumeMode Filesystem does not match the claim's Block"},
		{"selector matches", func() *corev1.PersistentVolumeClaim {
			c := claim("1Gi", nil)
			c.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "fast"}}
			return c
		}(), volume("a", "1Gi", ""), nil, ""},
		{"selector excludes", func() *corev1.PersistentVolumeClaim {
			c := claim("1Gi", nil)
			c.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "slow"}}
			return c
		}(), volume("a", "1Gi", ""), nil, "labels do not match the claim's selector"},
		{"attributes class differs", func() *corev1.PersistentVolumeClaim {
			c := claim("1Gi", nil)
			c.Spec.VolumeAttributesClassName = ptr.To("gold")
			return c
		}(), volume("a", "1Gi", "", func(pv *corev1.PersistentVolume) { pv.Spec.VolumeAttributesClassName = ptr.To("silver") }), nil,
			`volumeAttributesClassName "silver" does not match the claim's "gold"`},
		{"a volume with attributes for a claim without", claim("1Gi", nil),
			volume("a", "1Gi", "", func(pv *corev1.PersistentVolume) { pv.Spec.VolumeAttributesClassName = ptr.To("silver") }), nil,
			`volumeAttributesClassName "silver" does not match the claim's ""`},
		{"node allowed", claim("1Gi", nil), volume("a", "1Gi", "", onNode("n1")), node("n1"), ""},
		{"node refused", claim("1Gi", nil), volume("a", "1Gi", "", onNode("n1")), node("n2"), "node affinity does not allow node n2"},
		{"no node yet ignores affinity", claim("1Gi", nil), volume("a", "1Gi", "", onNode("n1")), nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Mismatch(tc.pvc, tc.pv, tc.node); got != tc.want {
				t.Errorf("Mismatch = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBestMatch: a pre-bound volume wins, then the smallest available fit;
// volumes reserved, released or being deleted are never taken.
func TestBestMatch(t *testing.T) {
	released := func(pv *corev1.PersistentVolume) { pv.Status.Phase = corev1.VolumeReleased }
	reserved := func(pv *corev1.PersistentVolume) {
		pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "ns", Name: "other"}
	}
	preBound := func(pv *corev1.PersistentVolume) {
		pv.Spec.ClaimRef = &corev1.ObjectReference{Namespace: "ns", Name: "data"}
	}
	deleting := func(pv *corev1.PersistentVolume) { pv.DeletionTimestamp = &metav1.Time{} }
	for _, tc := range []struct {
		name string
		pvs  []*corev1.PersistentVolume
		node *corev1.Node
		want string
	}{
		{"none", nil, nil, ""},
		{"smallest fit", []*corev1.PersistentVolume{volume("big", "10Gi", ""), volume("small", "2Gi", ""), volume("tiny", "500Mi", "")}, nil, "small"},
		{"tie by name", []*corev1.PersistentVolume{volume("b", "2Gi", ""), volume("a", "2Gi", "")}, nil, "a"},
		{"pre-bound wins", []*corev1.PersistentVolume{volume("small", "2Gi", ""), volume("mine", "10Gi", "", preBound)}, nil, "mine"},
		{"reserved skipped", []*corev1.PersistentVolume{volume("x", "2Gi", "", reserved)}, nil, ""},
		{"released skipped", []*corev1.PersistentVolume{volume("x", "2Gi", "", released)}, nil, ""},
		{"deleting skipped", []*corev1.PersistentVolume{volume("x", "2Gi", "", deleting)}, nil, ""},
		{"on the selected node", []*corev1.PersistentVolume{volume("n1", "2Gi", "", onNode("n1")), volume("n2", "5Gi", "", onNode("n2"))}, node("n2"), "n2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BestMatch(claim("1Gi", nil), tc.pvs, tc.node)
			name := ""
			if got != nil {
				name = got.Name
			}
			if name != tc.want {
				t.Errorf("BestMatch = %q, want %q", name, tc.want)
			}
		})
	}
}
