package main

// The hostpath driver's snapshots: a snapshot is a tar file of the volume's
// directory in the state dir (snap-<name>.tar); restoring one, or cloning a volume,
// unpacks or copies into the new volume.

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/container-storage-interface/spec/lib/go/csi"
	"golang.org/x/sys/unix"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

func (d *hostpathDriver) snapshotFile(id string) (string, error) {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." {
		return "", status.Errorf(codes.InvalidArgument, "bad snapshot id %q", id)
	}
	return filepath.Join(d.state, "snap-"+id+".tar"), nil
}

// CreateSnapshot packs the source volume into a tar file; a snapshot that exists
// already is returned as it is (the call is idempotent by name). The class
// parameter "fail" makes it fail, as a full backend would, for tests.
func (d *hostpathDriver) CreateSnapshot(_ context.Context, req *csi.CreateSnapshotRequest) (*csi.CreateSnapshotResponse, error) {
	if why := req.GetParameters()["fail"]; why != "" {
		return nil, status.Errorf(codes.ResourceExhausted, "asked to fail: %s", why)
	}
	src, err := d.volumeDir(req.GetSourceVolumeId())
	if err != nil {
		return nil, err
	}
	file, err := d.snapshotFile(req.GetName())
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(src); err != nil {
		return nil, status.Errorf(codes.NotFound, "volume %s: %v", req.GetSourceVolumeId(), err)
	}
	if _, err := os.Stat(file); errors.Is(err, fs.ErrNotExist) {
		if err := packFile(src, file); err != nil {
			return nil, status.Errorf(codes.Internal, "snapshot %s: %v", req.GetSourceVolumeId(), err)
		}
	}
	st, err := os.Stat(file)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.CreateSnapshotResponse{Snapshot: &csi.Snapshot{
		SnapshotId: req.GetName(), SourceVolumeId: req.GetSourceVolumeId(), SizeBytes: volumeSize(src),
		CreationTime: timestamppb.New(st.ModTime()), ReadyToUse: true,
	}}, nil
}

func (d *hostpathDriver) DeleteSnapshot(_ context.Context, req *csi.DeleteSnapshotRequest) (*csi.DeleteSnapshotResponse, error) {
	file, err := d.snapshotFile(req.GetSnapshotId())
	if err != nil {
		return nil, err
	}
	if err := os.Remove(file); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, status.Error(codes.Internal, err.Error())
	}
	return &csi.DeleteSnapshotResponse{}, nil
}

// volumeSize is the size of a volume's tmpfs, or 0 for a plain directory.
func volumeSize(dir string) int64 {
	var st unix.Statfs_t
	if !mounted(dir) || unix.Statfs(dir, &st) != nil {
		return 0
	}
	return int64(st.Blocks) * st.Bsize
}

// populate fills a new volume from its content source, if any.
func (d *hostpathDriver) populate(dir string, src *csi.VolumeContentSource) error {
	switch {
	case src == nil:
		return nil
	case src.GetSnapshot() != nil:
		file, err := d.snapshotFile(src.GetSnapshot().GetSnapshotId())
		if err != nil {
			return err
		}
		f, err := os.Open(file)
		if err != nil {
			return status.Errorf(codes.NotFound, "snapshot %s: %v", src.GetSnapshot().GetSnapshotId(), err)
		}
		defer f.Close()
		if err := unpack(f, dir); err != nil {
			return status.Errorf(codes.Internal, "restore snapshot %s: %v", src.GetSnapshot().GetSnapshotId(), err)
		}
	case src.GetVolume() != nil:
		from, err := d.volumeDir(src.GetVolume().GetVolumeId())
		if err != nil {
			return err
		}
		if _, err := os.Stat(from); err != nil {
			return status.Errorf(codes.NotFound, "volume %s: %v", src.GetVolume().GetVolumeId(), err)
		}
		r, w := io.Pipe()
		go func() { w.CloseWithError(pack(from, w)) }()
		if err := unpack(r, dir); err != nil {
			return status.Errorf(codes.Internal, "clone volume %s: %v", src.GetVolume().GetVolumeId(), err)
		}
	}
	return nil
}

// packFile writes dir as a tar file, through a temporary name so that a crash
// leaves no half snapshot.
func packFile(dir, file string) error {
	f, err := os.CreateTemp(filepath.Dir(file), ".snap-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := pack(dir, f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), file)
}

// pack writes the regular files, directories and symlinks under dir as a tar stream.
func pack(dir string, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(path); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		hdr.Name = filepath.ToSlash(rel)
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// unpack extracts a tar stream made by pack into dir, refusing names that leave it.
func unpack(r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		path := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if !strings.HasPrefix(path, filepath.Clean(dir)+string(filepath.Separator)) {
			return errors.New("tar entry " + hdr.Name + " leaves the volume")
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(path, mode)
		case tar.TypeSymlink:
			err = os.Symlink(hdr.Linkname, path)
		case tar.TypeReg:
			err = writeFile(path, tr, mode)
		}
		if err != nil {
			return err
		}
	}
}

func writeFile(path string, r io.Reader, mode fs.FileMode) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
