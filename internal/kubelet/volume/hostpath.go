package volume

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
)

// CheckHostPath applies a hostPath volume's type: the *OrCreate types create what is
// missing, the others require the path to exist as that kind of file.
func CheckHostPath(path string, t *corev1.HostPathType) error {
	typ := corev1.HostPathUnset
	if t != nil {
		typ = *t
	}
	info, err := os.Stat(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	switch typ {
	case corev1.HostPathUnset:
		return nil
	case corev1.HostPathDirectoryOrCreate:
		if !exists {
			return os.MkdirAll(path, 0o755)
		}
		return want(path, info.IsDir(), "a directory")
	case corev1.HostPathFileOrCreate:
		if !exists {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			return f.Close()
		}
		return want(path, info.Mode().IsRegular(), "a file")
	}
	if !exists {
		return fmt.Errorf("hostPath type check failed: %s does not exist", path)
	}
	m := info.Mode()
	switch typ {
	case corev1.HostPathDirectory:
		return want(path, m.IsDir(), "a directory")
	case corev1.HostPathFile:
		return want(path, m.IsRegular(), "a file")
	case corev1.HostPathSocket:
		return want(path, m&fs.ModeSocket != 0, "a socket file")
	case corev1.HostPathCharDev:
		return want(path, m&fs.ModeCharDevice != 0, "a character device")
	case corev1.HostPathBlockDev:
		return want(path, m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0, "a block device")
	}
	return fmt.Errorf("hostPath type %q is not supported", typ)
}

func want(path string, ok bool, what string) error {
	if ok {
		return nil
	}
	return fmt.Errorf("hostPath type check failed: %s is not %s", path, what)
}
