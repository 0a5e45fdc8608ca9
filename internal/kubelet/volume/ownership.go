package volume

import (
	"io/fs"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// fsGroup is the pod's fsGroup, or nil.
func fsGroup(pod *corev1.Pod) *int64 {
	if pod.Spec.SecurityContext == nil {
		return nil
	}
	return pod.Spec.SecurityContext.FSGroup
}

// setOwnership gives a volume's files to group gid, as Kubernetes does for fsGroup:
// the group may read (and, unless the volume is read-only, write) every file, and
// directories are set-group-ID so that files created later join the group too. Links
// are left alone: they point inside the volume, at files that get the same treatment.
func setOwnership(dir string, gid int64, readOnly bool) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.Type()&fs.ModeSymlink != 0 {
			return err
		}
		return own(p, gid, readOnly)
	})
}

// own gives one file or directory to group gid.
func own(p string, gid int64, readOnly bool) error {
	info, err := os.Lstat(p)
	if err != nil {
		return err
	}
	if err := os.Lchown(p, -1, int(gid)); err != nil {
		return err
	}
	bits := fs.FileMode(0o060)
	if readOnly {
		bits = 0o040
	}
	mode := info.Mode().Perm() | bits
	if info.IsDir() {
		mode |= 0o010 | fs.ModeSetgid // the group may enter it, and new files join the group
	}
	return os.Chmod(p, mode)
}
