package stats

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// NodeSource reads the machine's counters from the root cgroup (cgroup v1: the
// cpuacct and memory hierarchies), /proc and the data directory's filesystem.
type NodeSource struct {
	CgroupRoot string // "/sys/fs/cgroup"
	ProcRoot   string // "/proc"
	// FsPath is a path on the node's filesystem (the agent's data directory).
	FsPath string
}

// Node samples the machine.
func (s NodeSource) Node(context.Context) (NodeSample, error) {
	n := NodeSample{Time: time.Now()}
	var err error
	if n.CPUNanos, err = readUint(filepath.Join(s.CgroupRoot, "cpuacct", "cpuacct.usage")); err != nil {
		return n, err
	}
	if n.Usage, err = readUint(filepath.Join(s.CgroupRoot, "memory", "memory.usage_in_bytes")); err != nil {
		return n, err
	}
	ms, err := readKeyed(filepath.Join(s.CgroupRoot, "memory", "memory.stat"))
	if err != nil {
		return n, err
	}
	n.WorkingSet = WorkingSet(n.Usage, ms["total_inactive_file"])
	mi, err := readKeyed(filepath.Join(s.ProcRoot, "meminfo"))
	if err != nil {
		return n, err
	}
	n.MemoryCapacity = mi["MemTotal:"] * 1024
	// A filesystem that cannot be read reports zero capacity: no disk signal, rather
	// than no stats at all.
	var fs syscall.Statfs_t
	if err := syscall.Statfs(s.FsPath, &fs); err == nil {
		bsize := uint64(fs.Bsize)
		n.FsAvailable, n.FsCapacity = fs.Bavail*bsize, fs.Blocks*bsize
		n.InodesFree, n.Inodes = fs.Ffree, fs.Files
	}
	if v, err := readUint(filepath.Join(s.ProcRoot, "sys", "kernel", "pid_max")); err == nil {
		n.MaxPID = int64(v)
	}
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err == nil {
		n.Procs = int64(si.Procs)
	}
	return n, nil
}

// WorkingSet is memory usage less the inactive file cache, which the kernel can drop
// under pressure (never below zero).
func WorkingSet(usage, inactiveFile uint64) uint64 {
	if inactiveFile >= usage {
		return 0
	}
	return usage - inactiveFile
}

func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
}

// readKeyed reads "key value [unit]" lines (memory.stat, /proc/meminfo).
func readKeyed(path string) (map[string]uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]uint64{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		if v, err := strconv.ParseUint(fields[1], 10, 64); err == nil {
			out[fields[0]] = v
		}
	}
	return out, sc.Err()
}
