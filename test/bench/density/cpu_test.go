package density

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The node's whole CPU use for starting pods: the server and containerd are only a
// part of it; the shims, runc, the CNI plugins and the pods' own processes are
// another, larger one. The benchmark puts itself into a cpuacct cgroup of its own
// before it starts the server, so everything it starts is accounted there, except
// the containers, which runc moves into the node's cgroup; the two together are the
// node's CPU, whatever else runs on the machine meanwhile.

const cpuacctRoot = "/sys/fs/cgroup/cpuacct"

// cpuGroup is the benchmark's own cpuacct cgroup ("" when cgroup v1's cpuacct is
// not there: then only the server's and containerd's CPU is reported).
var cpuGroup string

// joinCPUGroup moves this process into a new cpuacct cgroup.
func joinCPUGroup() {
	dir := filepath.Join(cpuacctRoot, fmt.Sprintf("skiff-bench-density-%d", os.Getpid()))
	if err := os.Mkdir(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "bench density: no cpuacct cgroup, node CPU not reported:", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "bench density: joining the cpuacct cgroup failed, node CPU not reported:", err)
		_ = os.Remove(dir)
		return
	}
	cpuGroup = dir
}

// leaveCPUGroup moves this process back and removes the cgroup, which is empty once
// the server and everything it started have ended.
func leaveCPUGroup() {
	if cpuGroup == "" {
		return
	}
	_ = os.WriteFile(filepath.Join(cpuacctRoot, "cgroup.procs"), []byte(strconv.Itoa(os.Getpid())), 0o644)
	if err := os.Remove(cpuGroup); err != nil {
		fmt.Fprintln(os.Stderr, "bench density: the cpuacct cgroup still has processes:", err)
	}
}

// nodeCPU is the CPU time used so far by everything the benchmark started and by
// the node's containers, less the benchmark's own; ok is false without the cgroup.
func nodeCPU() (d time.Duration, ok bool) {
	if cpuGroup == "" {
		return 0, false
	}
	total := cgroupUsage(cpuGroup) + cgroupUsage(filepath.Join(cpuacctRoot, "skiff-"+nodeName))
	var self syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &self); err == nil {
		total -= time.Duration(self.Utime.Nano() + self.Stime.Nano())
	}
	return total, true
}

// cgroupUsage reads a cpuacct cgroup's CPU time, its descendants' included (0 when
// it does not exist yet).
func cgroupUsage(dir string) time.Duration {
	data, err := os.ReadFile(filepath.Join(dir, "cpuacct.usage"))
	if err != nil {
		return 0
	}
	ns, _ := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64)
	return time.Duration(ns)
}

// serverCPU is the CPU time of the server process and of its children that still
// run (containerd; the shims are containerd's and not counted).
func serverCPU() time.Duration {
	pid := node.Cluster.PID()
	total := procCPU(pid)
	children, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid))
	for _, c := range strings.Fields(string(children)) {
		var child int
		fmt.Sscan(c, &child)
		total += procCPU(child)
	}
	return total
}

// procCPU reads utime+stime of a process, in clock ticks of 10 ms.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(data)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var utime, stime int64
	fmt.Sscan(fields[11], &utime)
	fmt.Sscan(fields[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}
