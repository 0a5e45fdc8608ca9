package imageview

import (
	"errors"
	"fmt"
	"os"
	"strings"

	ctrdtypes "github.com/containerd/containerd/api/types"
	"golang.org/x/sys/unix"
)

// mountCall is one mount(2) call.
type mountCall struct {
	Source, FSType string
	Flags          uintptr
	Data           string
}

// mountFlags are the fstab options that are mount(2) flags; every other option is
// passed to the filesystem as data (overlay's lowerdir, index=off).
var mountFlags = map[string]uintptr{
	"ro": unix.MS_RDONLY, "bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC,
	"nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "noexec": unix.MS_NOEXEC,
	"noatime": unix.MS_NOATIME, "nodiratime": unix.MS_NODIRATIME, "relatime": unix.MS_RELATIME,
}

// maxMountData is what the kernel copies of mount(2)'s data: one page. containerd
// works around longer overlay options by changing directory; views of images with
// that many layers are refused instead.
const maxMountData = 4095

// plan turns the mounts the snapshotter gives for a view into the mount(2) calls that
// make it appear read-only at one place, whatever the snapshot's own options say. A
// view is one mount: a bind of the layer for a one-layer image, an overlay of the
// layers without an upper directory otherwise.
func plan(ms []*ctrdtypes.Mount) ([]mountCall, error) {
	if len(ms) != 1 {
		return nil, fmt.Errorf("the snapshotter gave %d mounts for a view, not one", len(ms))
	}
	m := ms[0]
	var flags uintptr
	var data []string
	for _, o := range m.Options {
		switch f, ok := mountFlags[o]; {
		case ok:
			flags |= f
		case o == "rw":
		default:
			data = append(data, o)
		}
	}
	call := mountCall{Source: m.Source, FSType: m.Type, Flags: flags | unix.MS_RDONLY, Data: strings.Join(data, ",")}
	if len(call.Data) > maxMountData {
		return nil, fmt.Errorf("the view's mount options are %d bytes, more than a mount takes (%d): too many layers", len(call.Data), maxMountData)
	}
	if m.Type != "bind" && flags&unix.MS_BIND == 0 {
		return []mountCall{call}, nil
	}
	// A bind mount ignores MS_RDONLY when it is made; a remount of the new mount
	// applies it.
	call.FSType, call.Flags = "", call.Flags&^unix.MS_RDONLY|unix.MS_BIND
	remount := mountCall{Flags: unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | flags&(unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC)}
	return []mountCall{call, remount}, nil
}

// mountAt performs calls at target, undoing what it did if one fails.
func mountAt(target string, calls []mountCall) error {
	if err := os.MkdirAll(target, 0o755); err != nil {
		return err
	}
	for i, c := range calls {
		src := c.Source
		if c.Flags&unix.MS_REMOUNT != 0 {
			src = ""
		}
		if err := unix.Mount(src, target, c.FSType, c.Flags, c.Data); err != nil {
			err = fmt.Errorf("mount %s at %s (type %q, options %q): %w", c.Source, target, c.FSType, c.Data, err)
			if i > 0 {
				err = errors.Join(err, unmount(target))
			}
			return err
		}
	}
	return nil
}

// unmount detaches whatever is mounted at target and removes the directory; a
// target that is not mounted (already done) is fine.
func unmount(target string) error {
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmounting %s: %w", target, err)
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
