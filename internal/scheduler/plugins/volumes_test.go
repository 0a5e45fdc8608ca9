package plugins

import (
	"context"
	"testing"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
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
	claim("wffc-static", "", "static")
	_ = volumes.Add(&v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "local-a"}, Spec: v1.PersistentVolumeSpec{
		NodeAffinity: &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{
			expr(v1.LabelHostname, v1.NodeSelectorOpIn, "a")}}}}})
	_ = volumes.Add(&v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "net"}})
	// A free hand-made volume on node a, of the class that makes none.
	_ = volumes.Add(&v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "static-a"}, Spec: v1.PersistentVolumeSpec{
		StorageClassName: "static",
		NodeAffinity: &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{
			expr(v1.LabelHostname, v1.NodeSelectorOpIn, "a")}}}}})
	_ = classes.Add(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "static"}, Provisioner: "kubernetes.io/no-provisioner",
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)})
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
		{"wffc-static", map[string]verdict{"a": fits, "b": reject(fw.UnschedulableAndUnresolvable, ReasonNoVolumeToBind)}},
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

// TestSelectNode: only unbound WaitForFirstConsumer claims learn the node; bound
// and Immediate claims are left alone, and a claim that already names the node is
// not rewritten.
func TestSelectNode(t *testing.T) {
	claims := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	classes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	add := func(name, volume, class, selected string) {
		c := &v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: v1.PersistentVolumeClaimSpec{VolumeName: volume, StorageClassName: ptr.To(class)}}
		if selected != "" {
			c.Annotations = map[string]string{"volume.kubernetes.io/selected-node": selected}
		}
		_ = claims.Add(c)
	}
	add("wffc", "", "local", "")
	add("wffc-elsewhere", "", "local", "b")
	add("wffc-here", "", "local", "a")
	add("bound", "pv", "local", "")
	add("immediate", "", "standard", "")
	_ = classes.Add(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local"},
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)})
	_ = classes.Add(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "standard"},
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingImmediate)})
	pl := &VolumeBinding{Claims: corelisters.NewPersistentVolumeClaimLister(claims), Classes: storagelisters.NewStorageClassLister(classes)}
	p := pod("p", "", "")
	for _, c := range []string{"wffc", "wffc-elsewhere", "wffc-here", "bound", "immediate"} {
		p.Spec.Volumes = append(p.Spec.Volumes, v1.Volume{Name: c, VolumeSource: v1.VolumeSource{
			PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: c}}})
	}
	got := map[string]string{}
	err := pl.SelectNode(context.Background(), func(_ context.Context, ns, name, key, value string) error {
		if ns != "default" || key != "volume.kubernetes.io/selected-node" {
			t.Errorf("annotated %s/%s with %s", ns, name, key)
		}
		got[name] = value
		return nil
	}, p, "a")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, map[string]string{"wffc": "a", "wffc-elsewhere": "a"}, got)
}

// TestVolumeBindingCSIDriver: a pod whose volume needs a CSI driver (a claim its
// class will provision, a claim bound to a CSI volume, an inline CSI volume) fits
// only nodes whose CSINode lists the driver, and waits (not unresolvable) elsewhere.
func TestVolumeBindingCSIDriver(t *testing.T) {
	const driver = "csi.example.com"
	claims := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	volumes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	classes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	csiNodes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = claims.Add(&v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "to-provision", Namespace: "default"},
		Spec: v1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("csi")}})
	_ = claims.Add(&v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "bound", Namespace: "default"},
		Spec: v1.PersistentVolumeClaimSpec{VolumeName: "vol", StorageClassName: ptr.To("csi")}})
	_ = volumes.Add(&v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "vol"}, Spec: v1.PersistentVolumeSpec{
		PersistentVolumeSource: v1.PersistentVolumeSource{CSI: &v1.CSIPersistentVolumeSource{Driver: driver, VolumeHandle: "h"}}}})
	_ = classes.Add(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "csi"}, Provisioner: driver,
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)})
	_ = csiNodes.Add(&storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "a"},
		Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: driver, NodeID: "a"}}}})
	_ = csiNodes.Add(&storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: "b"}})
	pl := &VolumeBinding{Claims: corelisters.NewPersistentVolumeClaimLister(claims),
		Volumes: corelisters.NewPersistentVolumeLister(volumes), Classes: storagelisters.NewStorageClassLister(classes),
		CSINodes: storagelisters.NewCSINodeLister(csiNodes)}
	snap := snapshot{nodeInfo(node("a", "1", "1Gi")), nodeInfo(node("b", "1", "1Gi")), nodeInfo(node("c", "1", "1Gi"))}
	missing := reject(fw.Unschedulable, ReasonNoCSIDriver+driver)
	want := map[string]verdict{"a": fits, "b": missing, "c": missing}
	for name, vs := range map[string]v1.VolumeSource{
		"claim to provision": {PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "to-provision"}},
		"bound claim":        {PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "bound"}},
		"inline":             {CSI: &v1.CSIVolumeSource{Driver: driver}},
	} {
		t.Run(name, func(t *testing.T) {
			p := pod("p", "", "")
			p.Spec.Volumes = []v1.Volume{{Name: "data", VolumeSource: vs}}
			diff(t, want, runFilter(t, pl, p, snap))
		})
	}
}

// TestVolumeBindingStorageCapacity: a claim to be provisioned by a driver that
// reports capacity fits only nodes reached by a CSIStorageCapacity of its class
// big enough for it (maximumVolumeSize before capacity; no topology reaches no
// node); a driver that does not report capacity is not held to it.
func TestVolumeBindingStorageCapacity(t *testing.T) {
	const driver = "csi.example.com"
	claims := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	classes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	csiNodes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	drivers := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	capacities := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	_ = claims.Add(&v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "big", Namespace: "default"},
		Spec: v1.PersistentVolumeClaimSpec{StorageClassName: ptr.To("csi"),
			Resources: v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: resource.MustParse("10Gi")}}}})
	_ = classes.Add(&storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "csi"}, Provisioner: driver,
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer)})
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		_ = csiNodes.Add(&storagev1.CSINode{ObjectMeta: metav1.ObjectMeta{Name: n},
			Spec: storagev1.CSINodeSpec{Drivers: []storagev1.CSINodeDriver{{Name: driver, NodeID: n}}}})
	}
	capacity := func(name, class, node string, capacity, max string) {
		c := &storagev1.CSIStorageCapacity{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"}, StorageClassName: class}
		if node != "" {
			c.NodeTopology = &metav1.LabelSelector{MatchLabels: map[string]string{"zone": node}}
		}
		if capacity != "" {
			c.Capacity = ptr.To(resource.MustParse(capacity))
		}
		if max != "" {
			c.MaximumVolumeSize = ptr.To(resource.MustParse(max))
		}
		_ = capacities.Add(c)
	}
	capacity("a-roomy", "csi", "a", "100Gi", "")
	capacity("b-small-volumes", "csi", "b", "100Gi", "5Gi") // room, but no volume over 5Gi
	capacity("c-other-class", "other", "c", "100Gi", "")
	capacity("d-full", "csi", "d", "1Gi", "")
	capacity("nowhere", "csi", "", "100Gi", "")
	pl := &VolumeBinding{Claims: corelisters.NewPersistentVolumeClaimLister(claims), Classes: storagelisters.NewStorageClassLister(classes),
		CSINodes: storagelisters.NewCSINodeLister(csiNodes), Drivers: storagelisters.NewCSIDriverLister(drivers),
		Capacities: storagelisters.NewCSIStorageCapacityLister(capacities)}
	var snap snapshot
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		snap = append(snap, nodeInfo(node(n, "1", "1Gi", "zone", n)))
	}
	p := pod("p", "", "")
	p.Spec.Volumes = []v1.Volume{{Name: "data", VolumeSource: v1.VolumeSource{
		PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "big"}}}}

	// The driver does not report capacity (no CSIDriver, then storageCapacity false).
	all := map[string]verdict{"a": fits, "b": fits, "c": fits, "d": fits, "e": fits}
	diff(t, all, runFilter(t, pl, p, snap))
	_ = drivers.Add(&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: driver}, Spec: storagev1.CSIDriverSpec{StorageCapacity: ptr.To(false)}})
	diff(t, all, runFilter(t, pl, p, snap))

	_ = drivers.Update(&storagev1.CSIDriver{ObjectMeta: metav1.ObjectMeta{Name: driver}, Spec: storagev1.CSIDriverSpec{StorageCapacity: ptr.To(true)}})
	full := reject(fw.Unschedulable, ReasonNotEnoughSpace)
	diff(t, map[string]verdict{"a": fits, "b": full, "c": full, "d": full, "e": full}, runFilter(t, pl, p, snap))
}
