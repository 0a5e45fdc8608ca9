package apiserver

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"skiff/internal/resources"
)

// fakeRecords are allocation records; taken values are re-claimed by another
// server between listing and releasing.
type fakeRecords struct {
	records  []resources.ClaimRecord
	taken    map[string]bool
	released []string
}

func (f *fakeRecords) List(context.Context) ([]resources.ClaimRecord, error) { return f.records, nil }

func (f *fakeRecords) ReleaseRecord(_ context.Context, r resources.ClaimRecord) (bool, error) {
	if f.taken[r.Value] {
		return false, nil
	}
	f.released = append(f.released, r.Value)
	return true, nil
}

// TestAllocRepairReleasesWhatNoServiceHolds: of three node-port records, the
// one a Service holds stays, the orphan is released, and the one claimed again
// meanwhile stays; the allocator is told exactly what remains taken.
func TestAllocRepairReleasesWhatNoServiceHolds(t *testing.T) {
	f := &fakeRecords{records: []resources.ClaimRecord{{Value: "30001", Created: 5}, {Value: "30002", Created: 6}, {Value: "30003", Created: 7}},
		taken: map[string]bool{"30003": true}}
	svc := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{NodePort: 30001}}}}
	var resynced []string
	r := &allocRepair{what: "node port", claims: f, held: nodePortsOf, resync: func(v []string) { resynced = v },
		services: func(context.Context) ([]runtime.Object, error) { return []runtime.Object{svc}, nil }}
	if err := r.step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"30002"}, f.released); diff != "" {
		t.Errorf("released (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"30001", "30003"}, resynced); diff != "" {
		t.Errorf("taken after the repair (-want +got):\n%s", diff)
	}
}

// TestAllocRepairRecordsWhatServicesHold: an address a Service holds without a
// record (its IPAddress lost or deleted by hand) gets one back for that
// Service; one recorded is left alone, and "None" is no address.
func TestAllocRepairRecordsWhatServicesHold(t *testing.T) {
	f := &fakeRecords{records: []resources.ClaimRecord{{Value: "10.96.0.5", Created: 5}}}
	svcs := []runtime.Object{
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "recorded"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.5", ClusterIPs: []string{"10.96.0.5"}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "lost"}, Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.6", ClusterIPs: []string{"10.96.0.6"}}},
		&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "c", Name: "headless"}, Spec: corev1.ServiceSpec{ClusterIP: "None", ClusterIPs: []string{"None"}}},
	}
	var recorded []string
	r := &allocRepair{what: "cluster IP", claims: f, held: clusterIPsOf,
		services: func(context.Context) ([]runtime.Object, error) { return svcs, nil },
		record: func(_ context.Context, v string, svc resources.ServiceRef) error {
			recorded = append(recorded, v+" "+svc.Namespace+"/"+svc.Name)
			return nil
		}}
	if err := r.step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"10.96.0.6 b/lost"}, recorded); diff != "" {
		t.Errorf("recorded (-want +got):\n%s", diff)
	}
}
