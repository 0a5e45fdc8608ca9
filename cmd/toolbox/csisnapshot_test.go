package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestHostpathSizedVolumes: a volume with a size is a tmpfs of that size; it grows
// with NodeExpandVolume; a snapshot of it restores into a new volume, and a clone
// copies it. Mounting needs root.
func TestHostpathSizedVolumes(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to mount tmpfs")
		}
		t.Skip("needs root to mount tmpfs")
	}
	ctx := context.Background()
	d := &hostpathDriver{name: "test", node: "n1", state: t.TempDir(), maxSize: 1 << 40}
	create := func(name string, size int64, src *csi.VolumeContentSource) string {
		t.Helper()
		if _, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: name, VolumeContentSource: src,
			CapacityRange: &csi.CapacityRange{RequiredBytes: size}}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = d.DeleteVolume(ctx, &csi.DeleteVolumeRequest{VolumeId: name}) })
		return filepath.Join(d.state, name)
	}
	size := func(dir string) int64 {
		var st unix.Statfs_t
		if err := unix.Statfs(dir, &st); err != nil {
			t.Fatal(err)
		}
		return int64(st.Blocks) * st.Bsize
	}
	dir := create("v1", 1<<20, nil)
	if got := size(dir); got != 1<<20 {
		t.Errorf("new volume size %d, want %d", got, 1<<20)
	}
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "note"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.NodeExpandVolume(ctx, &csi.NodeExpandVolumeRequest{VolumeId: "v1", CapacityRange: &csi.CapacityRange{RequiredBytes: 2 << 20}}); err != nil {
		t.Fatal(err)
	}
	if got := size(dir); got != 2<<20 {
		t.Errorf("expanded volume size %d, want %d", got, 2<<20)
	}
	snap, err := d.CreateSnapshot(ctx, &csi.CreateSnapshotRequest{Name: "s1", SourceVolumeId: "v1"})
	if err != nil {
		t.Fatal(err)
	}
	if !snap.GetSnapshot().GetReadyToUse() || snap.GetSnapshot().GetSizeBytes() != 2<<20 {
		t.Errorf("snapshot %+v", snap.GetSnapshot())
	}
	restored := create("v2", 2<<20, &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Snapshot{
		Snapshot: &csi.VolumeContentSource_SnapshotSource{SnapshotId: "s1"}}})
	clone := create("v3", 2<<20, &csi.VolumeContentSource{Type: &csi.VolumeContentSource_Volume{
		Volume: &csi.VolumeContentSource_VolumeSource{VolumeId: "v1"}}})
	for _, dir := range []string{restored, clone} {
		if got, err := os.ReadFile(filepath.Join(dir, "sub", "note")); err != nil || string(got) != "hello" {
			t.Errorf("%s: note %q, %v", dir, got, err)
		}
	}
	if _, err := d.DeleteSnapshot(ctx, &csi.DeleteSnapshotRequest{SnapshotId: "s1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(d.state, "snap-s1.tar")); !os.IsNotExist(err) {
		t.Errorf("snapshot file left: %v", err)
	}
}

// TestHostpathBrokenBackend: the class parameters that stand in for a broken
// backend make CreateVolume fail, or hang until its caller's deadline, and make no
// volume either way.
func TestHostpathBrokenBackend(t *testing.T) {
	d := &hostpathDriver{name: "test", node: "n1", state: t.TempDir(), maxSize: 1 << 40}
	_, err := d.CreateVolume(context.Background(), &csi.CreateVolumeRequest{Name: "v", Parameters: map[string]string{"fail": "full"}})
	if status.Code(err) != codes.ResourceExhausted {
		t.Errorf("fail: %v, want ResourceExhausted", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "v", Parameters: map[string]string{"hang": "yes"}})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("hang: %v, want DeadlineExceeded", err)
	}
	if entries, _ := os.ReadDir(d.state); len(entries) != 0 {
		t.Errorf("volumes made: %v", entries)
	}
}
