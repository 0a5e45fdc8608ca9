package localpath

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
)

// fakeQuotas records the calls the provisioner makes; the kernel's side is
// ProjectQuotas, which needs a filesystem with project quotas turned on.
type fakeQuotas struct {
	unsupported string
	limitErr    error
	calls       []string
}

func (f *fakeQuotas) Unsupported(dir string) string {
	f.calls = append(f.calls, "detect "+dir)
	return f.unsupported
}
func (f *fakeQuotas) Limit(path string, id uint32, bytes int64) error {
	f.calls = append(f.calls, fmt.Sprintf("limit %s %d %d", path, id, bytes))
	return f.limitErr
}
func (f *fakeQuotas) Clear(dir string, id uint32) error {
	f.calls = append(f.calls, fmt.Sprintf("clear %s %d", dir, id))
	return nil
}

// TestLimit: where the filesystem enforces project quotas a new volume gets its
// own project with a hard limit of its size, noted on the volume; elsewhere, or
// when setting the limit fails, the volume notes why its size is not enforced.
// The filesystem is asked once per data dir.
func TestLimit(t *testing.T) {
	const dir = "/data/local-path"
	for _, tc := range []struct {
		name    string
		q       fakeQuotas
		wantAnn string // the annotation set
		wantMsg string
	}{
		{"enforced", fakeQuotas{}, AnnProjectID, "limited to 1Gi by project quota "},
		{"unsupported", fakeQuotas{unsupported: "no prjquota"}, AnnSizeNotEnforced, "its size is recorded, not enforced: no prjquota"},
		{"limit fails", fakeQuotas{limitErr: errors.New("EPERM")}, AnnSizeNotEnforced, "its size is recorded, not enforced: EPERM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &Provisioner{quotas: &tc.q, unenforced: map[string]string{}}
			var pvs []*corev1.PersistentVolume
			for _, uid := range []string{"u1", "u2"} {
				pvc := claimOf("1Gi")
				pvc.UID = k8stypes.UID(uid)
				pv := newVolume(pvc, "n1", dir, "local-path", nil, nil)
				msg := p.limit(dir, pv)
				if len(msg) < len(tc.wantMsg) || msg[:len(tc.wantMsg)] != tc.wantMsg {
					t.Errorf("message %q, want it to start %q", msg, tc.wantMsg)
				}
				if _, ok := pv.Annotations[tc.wantAnn]; !ok || len(pv.Annotations) != 2 {
					t.Errorf("annotations %v, want %s", pv.Annotations, tc.wantAnn)
				}
				pvs = append(pvs, pv)
			}
			want := []string{"detect " + dir}
			if tc.q.unsupported == "" {
				for _, pv := range pvs {
					want = append(want, fmt.Sprintf("limit %s %d %d", pv.Spec.Local.Path, ProjectID(pv.Name), 1<<30))
				}
			}
			if !slices.Equal(tc.q.calls, want) {
				t.Errorf("calls\n got %q\nwant %q", tc.q.calls, want)
			}
			if tc.wantAnn == AnnProjectID && pvs[0].Annotations[AnnProjectID] == pvs[1].Annotations[AnnProjectID] {
				t.Errorf("two volumes share project %s", pvs[0].Annotations[AnnProjectID])
			}
		})
	}
}

// TestResizeRaisesQuota: growing a volume with a project quota raises the limit
// to the new size before the size is recorded.
func TestResizeRaisesQuota(t *testing.T) {
	pvc := claimOf("1Gi")
	pv := newVolume(pvc, "n1", "/data/local-path", "local-path", nil, nil)
	pv.Annotations[AnnProjectID] = strconv.Itoa(int(ProjectID(pv.Name)))
	pvc.Spec.VolumeName = pv.Name
	pvc.Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
	pvc.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound,
		Capacity: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}}
	volumes := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	_ = volumes.Add(pv)
	q := &fakeQuotas{}
	p := &Provisioner{client: fake.NewClientset(pvc, pv), dirs: OneNode("n1", "/data/local-path"), volumes: corelisters.NewPersistentVolumeLister(volumes),
		rec: record.NewFakeRecorder(10), free: func(string) (int64, error) { return 4 << 30, nil }, quotas: q}
	if err := p.resize(context.Background(), pvc); err != nil {
		t.Fatal(err)
	}
	want := []string{fmt.Sprintf("limit %s %d %d", pv.Spec.Local.Path, ProjectID(pv.Name), 2<<30)}
	if !slices.Equal(q.calls, want) {
		t.Errorf("calls\n got %q\nwant %q", q.calls, want)
	}
}
