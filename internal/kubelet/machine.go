package kubelet

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// maxPods is the pod capacity every node reports, as Kubernetes' default.
const maxPods = 110

// machineInfo is what the node status says about the machine.
type machineInfo struct {
	CPUs             int
	MemoryBytes      int64
	EphemeralBytes   int64
	MachineID        string
	BootID           string
	KernelVersion    string
	OSImage          string
	Hostname         string
	OperatingSystem  string
	Architecture     string
	SystemUUIDSource string
}

func readMachineInfo(dataDir string) machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), OperatingSystem: runtime.GOOS, Architecture: runtime.GOARCH}
	m.MemoryBytes = memTotal()
	var st syscall.Statfs_t
	if dataDir != "" && syscall.Statfs(dataDir, &st) == nil {
		m.EphemeralBytes = int64(st.Blocks) * st.Bsize
	}
	m.MachineID = readTrim("/etc/machine-id")
	m.BootID = readTrim("/proc/sys/kernel/random/boot_id")
	m.KernelVersion = readTrim("/proc/sys/kernel/osrelease")
	m.OSImage = osImage()
	m.Hostname, _ = os.Hostname()
	m.SystemUUIDSource = readTrim("/sys/class/dmi/id/product_uuid")
	return m
}

// capacity is the node's capacity; allocatable is the same (no system reservations yet).
func (m machineInfo) capacity() corev1.ResourceList {
	return corev1.ResourceList{
		corev1.ResourceCPU:              *resource.NewQuantity(int64(m.CPUs), resource.DecimalSI),
		corev1.ResourceMemory:           *resource.NewQuantity(m.MemoryBytes, resource.BinarySI),
		corev1.ResourcePods:             *resource.NewQuantity(maxPods, resource.DecimalSI),
		corev1.ResourceEphemeralStorage: *resource.NewQuantity(m.EphemeralBytes, resource.BinarySI),
	}
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func memTotal() int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "MemTotal:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func osImage() string {
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}
