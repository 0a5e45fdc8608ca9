package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestHostpathModify: a volume's mutable parameters are written into it at
// CreateVolume and replaced by ControllerModifyVolume; "fail" refuses them, for
// good (InvalidArgument) or for now (Unavailable), and leaves the volume as it was.
func TestHostpathModify(t *testing.T) {
	ctx := context.Background()
	d := &hostpathDriver{name: "test", node: "n1", state: t.TempDir(), maxSize: 1 << 40}
	read := func() string {
		t.Helper()
		data, err := os.ReadFile(filepath.Join(d.state, "v1", attributesFile))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return string(data)
	}
	if _, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "v1",
		MutableParameters: map[string]string{"iops": "100", "tier": "silver"}}); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "iops=100\ntier=silver\n" {
		t.Errorf("after CreateVolume: %q", got)
	}
	for _, tc := range []struct {
		params map[string]string
		code   codes.Code
		want   string
	}{
		{map[string]string{"iops": "500", "tier": "gold"}, codes.OK, "iops=500\ntier=gold\n"},
		{map[string]string{"fail": "invalid"}, codes.InvalidArgument, "iops=500\ntier=gold\n"},
		{map[string]string{"fail": "busy"}, codes.Unavailable, "iops=500\ntier=gold\n"},
	} {
		_, err := d.ControllerModifyVolume(ctx, &csi.ControllerModifyVolumeRequest{VolumeId: "v1", MutableParameters: tc.params})
		if status.Code(err) != tc.code {
			t.Errorf("modify %v: %v, want code %v", tc.params, err, tc.code)
		}
		if got := read(); got != tc.want {
			t.Errorf("after modify %v: %q, want %q", tc.params, got, tc.want)
		}
	}
	if _, err := d.ControllerModifyVolume(ctx, &csi.ControllerModifyVolumeRequest{VolumeId: "gone"}); status.Code(err) != codes.NotFound {
		t.Errorf("modify of a missing volume: %v", err)
	}
	if _, err := d.CreateVolume(ctx, &csi.CreateVolumeRequest{Name: "v2",
		MutableParameters: map[string]string{"fail": "invalid"}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("CreateVolume with refused parameters: %v", err)
	}
}
