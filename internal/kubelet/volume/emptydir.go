package volume

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
)

// setupEmptyDir creates the directory, world-writable as Kubernetes makes it so that
// containers running as any user can share it; medium Memory mounts a tmpfs sized
// by sizeLimit.
func setupEmptyDir(dir string, src *corev1.EmptyDirVolumeSource) error {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return err
	}
	if src.Medium == corev1.StorageMediumMemory {
		if err := ensureTmpfs(dir, tmpfsOptions(src)); err != nil {
			return err
		}
	}
	return os.Chmod(dir, 0o777)
}

// ensureTmpfs mounts a tmpfs at dir unless one is there already (the agent
// restarted, or this is a re-sync).
func ensureTmpfs(dir, opts string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	mounted, err := isMountPoint(dir)
	if err != nil || mounted {
		return err
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_NOSUID|syscall.MS_NODEV, opts); err != nil {
		return fmt.Errorf("mounting tmpfs at %s: %w", dir, err)
	}
	return nil
}

// tmpfsOptions sizes the tmpfs; with no sizeLimit the kernel's default (half of
// memory) applies, and the pod's memory limit still bounds what it can write.
func tmpfsOptions(src *corev1.EmptyDirVolumeSource) string {
	opts := "mode=0777"
	if src.SizeLimit != nil && src.SizeLimit.Value() > 0 {
		opts += fmt.Sprintf(",size=%d", src.SizeLimit.Value())
	}
	return opts
}

// isMountPoint reports whether dir is on another filesystem than its parent.
func isMountPoint(dir string) (bool, error) {
	var st, parent syscall.Stat_t
	if err := syscall.Lstat(dir, &st); err != nil {
		return false, err
	}
	if err := syscall.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}

// mountPoints lists the mount points of the agent's mount namespace.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		if fields := strings.Fields(s.Text()); len(fields) > 4 {
			out = append(out, fields[4])
		}
	}
	return out, s.Err()
}

// mountsUnder lists the mount points below dir, deepest first.
func mountsUnder(dir string) ([]string, error) {
	all, err := mountPoints()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range all {
		if strings.HasPrefix(m, dir+"/") {
			out = append(out, m)
		}
	}
	slices.Sort(out)
	slices.Reverse(out)
	return out, nil
}

// Mounted reports whether something is mounted at dir itself. Unlike comparing
// device numbers, it sees a bind mount from the same filesystem.
func Mounted(dir string) (bool, error) {
	all, err := mountPoints()
	return slices.Contains(all, filepath.Clean(dir)), err
}

// UnmountUnder unmounts every mount below dir, deepest first, with the given
// unmount(2) flags (MNT_DETACH when a whole data dir is being removed).
func UnmountUnder(dir string, flags int) error {
	mounts, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	var errs []error
	for _, m := range mounts {
		if err := syscall.Unmount(m, flags); err != nil && !errors.Is(err, syscall.EINVAL) {
			errs = append(errs, fmt.Errorf("unmounting %s: %w", m, err))
		}
	}
	return errors.Join(errs...)
}

// UnmountTree unmounts every mount below dir and dir itself, if it is one,
// detaching those still busy.
func UnmountTree(dir string) error {
	err := UnmountUnder(dir, syscall.MNT_DETACH)
	if uerr := syscall.Unmount(dir, syscall.MNT_DETACH); uerr != nil && !errors.Is(uerr, syscall.EINVAL) && !errors.Is(uerr, syscall.ENOENT) {
		err = errors.Join(err, fmt.Errorf("unmounting %s: %w", dir, uerr))
	}
	return err
}

// RemoveAll unmounts and removes the volumes of every pod under root (a node being
// reset). Pod log directories stay.
func RemoveAll(root string) error {
	dirs, err := filepath.Glob(filepath.Join(root, "pods", "*", "volumes"))
	if err != nil {
		return err
	}
	var errs []error
	for _, d := range dirs {
		errs = append(errs, removePodVolumes(filepath.Dir(d)))
	}
	return errors.Join(errs...)
}
