package localpath

import (
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Project quotas limit a local-path volume to its size where the node's data dir
// is on a filesystem that enforces them: ext4 with the project feature mounted
// with prjquota, or xfs mounted with prjquota. Each volume directory gets its own
// project ID (inherited by everything made below it) and a block hard limit of
// the claim's size; a write past it fails with EDQUOT. Elsewhere the size is only
// recorded, and the volume and its claim say so.

// Quotas sets and clears the size limits of volume directories.
type Quotas interface {
	// Unsupported says why sizes cannot be enforced under dir, or "".
	Unsupported(dir string) string
	// Limit gives the directory at path project id and a hard limit of bytes.
	Limit(path string, id uint32, bytes int64) error
	// Clear drops project id's limit on the filesystem of dir.
	Clear(dir string, id uint32) error
}

// Kernel interface constants (linux/quota.h, linux/fs.h); x/sys/unix has none of them.
const (
	qGetInfo           = 0x800005
	qSetQuota          = 0x800008
	prjQuota           = 2
	qifBLimits         = 1
	qifDqBlkSize       = 1024 // the unit of if_dqblk's block limits
	fsIocFsGetXattr    = 0x801c581f
	fsIocFsSetXattr    = 0x401c5820
	fsXflagProjInherit = 0x200
)

func qcmd(cmd, typ uint32) uintptr { return uintptr(cmd<<8 | typ&0xff) }

// fsxattr is struct fsxattr of linux/fs.h.
type fsxattr struct {
	xflags, extsize, nextents, projid, cowextsize uint32
	pad                                           [8]byte
}

// dqblk is struct if_dqblk of linux/quota.h.
type dqblk struct {
	bhardlimit, bsoftlimit, curspace, ihardlimit, isoftlimit, curinodes, btime, itime uint64
	valid                                                                             uint32
	_                                                                                 uint32
}

// dqinfo is struct if_dqinfo of linux/quota.h.
type dqinfo struct {
	bgrace, igrace uint64
	flags, valid   uint32
}

// ProjectQuotas is Quotas through the kernel: quotactl_fd(2) on the filesystem
// and the FS_IOC_FSSETXATTR ioctl on each directory.
type ProjectQuotas struct{}

// Unsupported asks the filesystem of dir for its project quota state: it answers
// only when project quotas are turned on (accounting and enforcement).
func (ProjectQuotas) Unsupported(dir string) string {
	var info dqinfo
	err := quotactl(dir, qcmd(qGetInfo, prjQuota), 0, unsafe.Pointer(&info))
	switch {
	case err == nil:
		return ""
	case errors.Is(err, unix.ESRCH):
		return fmt.Sprintf("project quotas are not turned on for the filesystem of %s (%s)", dir, quotaHint)
	default:
		return fmt.Sprintf("the filesystem of %s has no project quotas: %v (%s)", dir, err, quotaHint)
	}
}

const quotaHint = "ext4 with the project feature, or xfs, mounted with prjquota, would enforce sizes"

// Limit sets path's project ID, inherited by what is made below it, and the
// project's block hard limit, rounded up to whole KiB.
func (ProjectQuotas) Limit(path string, id uint32, bytes int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var attr fsxattr
	if err := ioctl(f, fsIocFsGetXattr, unsafe.Pointer(&attr)); err != nil {
		return fmt.Errorf("read the attributes of %s: %w", path, err)
	}
	attr.projid, attr.xflags = id, attr.xflags|fsXflagProjInherit
	if err := ioctl(f, fsIocFsSetXattr, unsafe.Pointer(&attr)); err != nil {
		return fmt.Errorf("set project %d on %s: %w", id, path, err)
	}
	return setLimit(path, id, uint64((bytes+qifDqBlkSize-1)/qifDqBlkSize))
}

// Clear drops the limit of project id, so that a later volume given the same ID
// starts unlimited until its own limit is set.
func (ProjectQuotas) Clear(dir string, id uint32) error { return setLimit(dir, id, 0) }

func setLimit(path string, id uint32, blocks uint64) error {
	q := dqblk{bhardlimit: blocks, bsoftlimit: blocks, valid: qifBLimits}
	if err := quotactl(path, qcmd(qSetQuota, prjQuota), id, unsafe.Pointer(&q)); err != nil {
		return fmt.Errorf("set the block limit of project %d: %w", id, err)
	}
	return nil
}

// quotactl runs quotactl_fd(2) on the filesystem holding path.
func quotactl(path string, cmd uintptr, id uint32, addr unsafe.Pointer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, _, errno := unix.Syscall6(unix.SYS_QUOTACTL_FD, f.Fd(), cmd, uintptr(id), uintptr(addr), 0, 0); errno != 0 {
		return errno
	}
	return nil
}

func ioctl(f *os.File, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}

// ProjectID is the project of a volume: from its name, so that the provisioner
// finds it again without keeping state, and above the IDs people pick by hand.
func ProjectID(volume string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(volume))
	return 1<<24 + h.Sum32()%(1<<30)
}
