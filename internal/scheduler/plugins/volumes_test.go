package plugins

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"

	fw "skiff/internal/scheduler/framework"
)

func TestVolumeBinding(t *testing.T) {
	claims := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	volumes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	classes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	claim := func(name, volume, class string) {
		c := &v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: v1.PersistentVolumeClaimSpec{VolumeName: volume, StorageClassName: ptr.To(class)}}
		_ = claims.Add(c)
	}
	claim("bound-local", "local-a", "local")
	claim("bound-net", "net", "standard")
	claim("unbound", "", "standard")
	claim("wffc", "", "local")
	_ = volumes.Add(&v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "local-a"}, Spec: v1.PersistentVolumeSpec{
		NodeAffinity: &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{
			expr(v1.LabelHostname, v1.NodeSelectorOpIn, "a")}}}}})
	_ = volumes.Add(&v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "net"}})
	_ = classes.Add(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local"},
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)})
	_ = classes.Add(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"},
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)})
	pl := &VolumeBinding{Claims: corelisters.NewPersistentVolumeClaimLister(claims),
		Volumes: corelisters.NewPersistentVolumeLister(volumes), Classes: storagelisters.NewStorageClassLister(classes)}
	snap := snapshot{nodeInfo(node("a", "1", "1Gi")), nodeInfo(node("b", "1", "1Gi"))}
	both := func(v verdict) map[string]verdict { return map[string]verdict{"a": v, "b": v} }
	tests := []struct {
		claim string
		want  map[string]verdict
	}{
		{"bound-local", map[string]verdict{"a": fits, "b": reject(fw.UnschedulableAndUnresolvable, ReasonVolumeNodeAffinity)}},
		{"bound-net", both(fits)},
		{"unbound", both(reject(fw.UnschedulableAndUnresolvable, ReasonUnboundImmediate))},
		{"wffc", both(fits)},
		{"missing", both(reject(fw.UnschedulableAndUnresolvable, `persistentvolumeclaim "missing" not found`))},
	}
	for _, tt := range tests {
		t.Run(tt.claim, func(t *testing.T) {
			p := pod("p", "", "")
			p.Spec.Volumes = []v1.Volume{{Name: "data", VolumeSource: v1.VolumeSource{
				PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: tt.claim}}}}
			diff(t, tt.want, runFilter(t, pl, p, snap))
		})
	}
}
