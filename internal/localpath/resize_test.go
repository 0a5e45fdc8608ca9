package localpath

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// TestResize: a bound local-path claim that asks for more grows when the data dir
// has room for the difference (volume and claim record the size, nothing waits for
// the node), and is marked infeasible, unchanged, when it has not.
func TestResize(t *testing.T) {
	for _, tc := range []struct {
		name     string
		free     int64
		wantSize string
		wantSt   corev1.ClaimResourceStatus
	}{
		{"room for the growth", 1 << 30, "2Gi", ""},
		{"no room", 1 << 20, "1Gi", corev1.PersistentVolumeClaimControllerResizeInfeasible},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pvc := claimOf("1Gi")
			pv := newVolume(pvc, "n1", "/data/local-path", "local-path", nil, nil)
			pvc.Spec.VolumeName = pv.Name
			pvc.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
			pvc.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
				Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}
			client := fake.NewClientset(pvc, pv)
			volumes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
			_ = volumes.Add(pv)
			p := &Provisioner{client: client, dirs: OneNode("n1", "/data/local-path"), volumes: corelisters.NewPersistentVolumeLister(volumes),
				rec: record.NewFakeRecorder(10), free: func(string) (int64, error) { return tc.free, nil }}
			if err := p.resize(context.Background(), pvc); err != nil {
				t.Fatal(err)
			}
			gotPVC, _ := client.CoreV1().PersistentVolumeClaims("ns").Get(context.Background(), "data", metav1.GetOptions{})
			gotPV, _ := client.CoreV1().PersistentVolumes().Get(context.Background(), pv.Name, metav1.GetOptions{})
			capacity, size := gotPVC.Status.Capacity[corev1.ResourceStorage], gotPV.Spec.Capacity[corev1.ResourceStorage]
			if capacity.String() != tc.wantSize || size.String() != tc.wantSize {
				t.Errorf("claim capacity %s, volume size %s, want %s", capacity.String(), size.String(), tc.wantSize)
			}
			if st := gotPVC.Status.AllocatedResourceStatuses[corev1.ResourceStorage]; st != tc.wantSt {
				t.Errorf("allocatedResourceStatuses = %q, want %q", st, tc.wantSt)
			}
			if a := gotPVC.Status.AllocatedResources[corev1.ResourceStorage]; a.String() != "2Gi" {
				t.Errorf("allocatedResources = %s, want 2Gi", a.String())
			}
		})
	}
}
