package main

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The hostpath driver's mutable parameters (a VolumeAttributesClass's) change
// nothing about a directory; the driver writes them into the volume, one
// key=value line each, so that a pod using it (and a test) reads what was
// applied. The parameter "fail" makes applying them fail: "invalid" as a driver
// refuses parameters it can never apply (InvalidArgument), any other value as a
// backend that is busy for now (Unavailable).

const attributesFile = ".volume-attributes"

// attributesRefused says why the driver will not apply params, or nil.
func attributesRefused(params map[string]string) error {
	switch why := params["fail"]; why {
	case "":
		return nil
	case "invalid":
		return status.Errorf(codes.InvalidArgument, "asked to fail: %s", why)
	default:
		return status.Errorf(codes.Unavailable, "asked to fail: %s", why)
	}
}

// writeAttributes records params in the volume at dir; none removes the record
// (a volume restored or cloned from another starts with the source's).
func writeAttributes(dir string, params map[string]string) error {
	path := filepath.Join(dir, attributesFile)
	if len(params) == 0 {
		if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
			return status.Error(codes.Internal, err.Error())
		}
		return nil
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(params)) {
		b.WriteString(k + "=" + params[k] + "\n")
	}
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, []byte(b.String()), 0o644)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return status.Errorf(codes.Internal, "record the volume's attributes: %v", err)
	}
	return nil
}

// ControllerModifyVolume applies a volume's new mutable parameters.
func (d *hostpathDriver) ControllerModifyVolume(_ context.Context, req *csi.ControllerModifyVolumeRequest) (*csi.ControllerModifyVolumeResponse, error) {
	dir, err := d.volumeDir(req.GetVolumeId())
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume %s: %v", req.GetVolumeId(), err)
	}
	if err := attributesRefused(req.GetMutableParameters()); err != nil {
		return nil, err
	}
	return &csi.ControllerModifyVolumeResponse{}, writeAttributes(dir, req.GetMutableParameters())
}
