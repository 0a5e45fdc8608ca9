package memtune

import (
	"bufio"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitShare is the part of the machine's (or the cgroup's) memory the Go
// heap may grow to before the collector works harder to stay below it.
const memoryLimitShare = 0.75

// setMemoryLimit gives the process a soft memory limit derived from the machine
// when GOMEMLIMIT does not set one: the heap then grows freely on a small cluster
// but is collected harder before the machine runs out, instead of the process
// being killed. GOMEMLIMIT (e.g. 2GiB, or off) overrides it.
func setMemoryLimit() {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return
	}
	avail := machineMemory()
	if avail <= 0 {
		return
	}
	limit := int64(float64(avail) * memoryLimitShare)
	debug.SetMemoryLimit(limit)
	slog.Info("soft memory limit set (GOMEMLIMIT overrides)", "limit-MiB", limit>>20)
}

// machineMemory is the memory this process may use: the cgroup's limit when it
// has one, else the machine's total; 0 when neither is known.
func machineMemory() int64 {
	total := memTotal()
	for _, f := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(string(data)), 10, 64); err == nil && n > 0 && (total == 0 || n < total) {
			return n
		}
	}
	return total
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
