package kubelet

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupRoot is where the cgroup v1 hierarchies are mounted on this machine kind.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupManager creates and removes the node's cgroups (cgroup v1, cgroupfs layout):
// containerd puts each container under the pod cgroup it is given but never removes
// that parent, so the agent owns the pod cgroups and the node prefix above them.
type cgroupManager struct {
	prefix string
	root   string
}

func newCgroupManager(prefix string) *cgroupManager {
	return &cgroupManager{prefix: prefix, root: cgroupRoot}
}

// hierarchies lists the mounted v1 controllers (cpu, memory, pids, ...).
func (m *cgroupManager) hierarchies() []string {
	entries, err := os.ReadDir(m.root)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != "unified" {
			out = append(out, filepath.Join(m.root, e.Name()))
		}
	}
	return out
}

// ensurePrefix creates the node's cgroup in the controllers that carry limits; runc
// creates the path in the others when the first container starts.
func (m *cgroupManager) ensurePrefix() error {
	for _, c := range []string{"cpu", "memory", "pids"} {
		dir := filepath.Join(m.root, c, m.prefix)
		if _, err := os.Stat(filepath.Join(m.root, c)); err != nil {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// ensurePod creates the pod cgroup and applies the pod-level limits, so that the
// pod as a whole cannot exceed what its containers together may use.
func (m *cgroupManager) ensurePod(parent string, l podLimits) error {
	write := func(ctrl, file string, v int64) error {
		dir := filepath.Join(m.root, ctrl, parent)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if v == 0 {
			return nil
		}
		return os.WriteFile(filepath.Join(dir, file), []byte(strconv.FormatInt(v, 10)), 0o644)
	}
	if err := write("cpu", "cpu.shares", l.CPUShares); err != nil {
		return err
	}
	if l.CPUQuota > 0 {
		if err := write("cpu", "cpu.cfs_period_us", quotaPeriodUs); err != nil {
			return err
		}
	}
	if err := write("cpu", "cpu.cfs_quota_us", l.CPUQuota); err != nil {
		return err
	}
	return write("memory", "memory.limit_in_bytes", l.MemoryLimit)
}

// removePod deletes the pod cgroup from every hierarchy; it fails while a process
// is still inside, and the caller retries.
func (m *cgroupManager) removePod(parent string) error {
	if strings.Trim(parent, "/") == "" {
		return errors.New("refusing to remove a cgroup hierarchy root")
	}
	var errs []error
	for _, h := range m.hierarchies() {
		if err := removeTree(filepath.Join(h, parent)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeAll deletes the node prefix and everything below it.
func (m *cgroupManager) removeAll() error {
	return m.removePod(m.prefix)
}

// removeTree removes a cgroup directory bottom-up (cgroupfs directories hold only
// virtual files, which rmdir accepts).
func removeTree(dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var dirs []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	var errs []error
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := os.Remove(dirs[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
