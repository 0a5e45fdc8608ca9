package imageview

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	snapshotsapi "github.com/containerd/containerd/api/services/snapshots/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"k8s.io/apimachinery/pkg/types"
)

// fakeSnapshots is containerd's snapshot service as far as removing views goes. It
// ignores list filters, as a runtime that does not know them would.
type fakeSnapshots struct {
	snapshotsapi.SnapshotsClient
	infos []*snapshotsapi.Info
	tried []string        // keys asked to be removed
	gone  map[string]bool // removed already: NotFound
}

type listStream struct {
	grpc.ClientStream
	infos []*snapshotsapi.Info
	sent  bool
}

func (s *listStream) Recv() (*snapshotsapi.ListSnapshotsResponse, error) {
	if s.sent {
		return nil, io.EOF
	}
	s.sent = true
	return &snapshotsapi.ListSnapshotsResponse{Info: s.infos}, nil
}

func (f *fakeSnapshots) List(ctx context.Context, in *snapshotsapi.ListSnapshotsRequest, _ ...grpc.CallOption) (snapshotsapi.Snapshots_ListClient, error) {
	if md, _ := metadata.FromOutgoingContext(ctx); len(md.Get("containerd-namespace")) != 1 || md.Get("containerd-namespace")[0] != Namespace {
		return nil, status.Error(codes.FailedPrecondition, "no namespace")
	}
	return &listStream{infos: f.infos}, nil
}

func (f *fakeSnapshots) Remove(_ context.Context, in *snapshotsapi.RemoveSnapshotRequest, _ ...grpc.CallOption) (*emptypb.Empty, error) {
	f.tried = append(f.tried, in.Key)
	if f.gone[in.Key] {
		return nil, status.Error(codes.NotFound, "no such snapshot")
	}
	return &emptypb.Empty{}, nil
}

func TestRemoveViews(t *testing.T) {
	dir := t.TempDir()
	view := func(node, uid, volume string) *snapshotsapi.Info {
		target := filepath.Join(dir, node, uid, volume)
		if err := os.MkdirAll(target, 0o755); err != nil {
			t.Fatal(err)
		}
		return &snapshotsapi.Info{Name: "skiff/image-volume/" + node + "/" + uid + "/" + volume,
			Labels: map[string]string{labelNode: node, labelPod: uid, labelTarget: target}}
	}
	infos := []*snapshotsapi.Info{
		view("n1", "a", "data"), view("n1", "a", "more"), view("n1", "b", "data"), view("n1", "c", "data"),
		view("n2", "a", "data"), // another node's, on a shared runtime
		{Name: "sha256:0123", Labels: map[string]string{"containerd.io/gc.root": "x"}}, // an image layer
	}
	for _, tc := range []struct {
		name string
		run  func(v *Views) error
		want []string
	}{
		{name: "a pod's views", run: func(v *Views) error { return v.Unmount(context.Background(), "a") },
			want: []string{"skiff/image-volume/n1/a/data", "skiff/image-volume/n1/a/more"}},
		{name: "the views of pods not kept", run: func(v *Views) error {
			return v.Sweep(context.Background(), func(uid types.UID) bool { return uid == "b" })
		}, want: []string{"skiff/image-volume/n1/a/data", "skiff/image-volume/n1/a/more", "skiff/image-volume/n1/c/data"}},
		{name: "a pod with none", run: func(v *Views) error { return v.Unmount(context.Background(), "z") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// c's view is already gone (a worker's teardown raced the sweep): NotFound is fine.
			f := &fakeSnapshots{infos: infos, gone: map[string]bool{"skiff/image-volume/n1/c/data": true}}
			v := &Views{snapshots: f, snapshotter: "overlayfs", node: "n1"}
			if err := tc.run(v); err != nil {
				t.Fatal(err)
			}
			slices.Sort(f.tried)
			if !slices.Equal(f.tried, tc.want) {
				t.Fatalf("removed %v, want %v", f.tried, tc.want)
			}
			for _, info := range infos {
				_, err := os.Stat(info.Labels[labelTarget])
				if gone := os.IsNotExist(err); info.Labels[labelTarget] != "" && gone != slices.Contains(tc.want, info.Name) {
					t.Errorf("target of %s removed: %v", info.Name, gone)
				}
			}
			// Restore the targets for the next case.
			for _, info := range infos {
				if target := info.Labels[labelTarget]; target != "" {
					_ = os.MkdirAll(target, 0o755)
				}
			}
		})
	}
}
