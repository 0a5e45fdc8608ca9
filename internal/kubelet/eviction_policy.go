package kubelet

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"skiff/internal/kubelet/stats"
)

// Eviction signals, named as the kubelet's --eviction-hard flag names them.
const (
	SignalMemoryAvailable = "memory.available"
	SignalNodeFsAvailable = "nodefs.available"
	SignalNodeFsInodes    = "nodefs.inodesFree"
	SignalPIDAvailable    = "pid.available"
)

// DefaultEvictionHard are Kubernetes' defaults for the signals skiff observes.
const DefaultEvictionHard = "memory.available<100Mi,nodefs.available<10%,nodefs.inodesFree<5%"

// EvictionThreshold is one hard threshold: the signal is met when what is available
// falls below Quantity, or below Percent of the capacity.
type EvictionThreshold struct {
	Signal   string
	Quantity *resource.Quantity
	Percent  float64 // 0 < Percent <= 100 when Quantity is nil
}

func (t EvictionThreshold) String() string {
	if t.Quantity != nil {
		return t.Signal + "<" + t.Quantity.String()
	}
	return t.Signal + "<" + strconv.FormatFloat(t.Percent, 'f', -1, 64) + "%"
}

// limit is the threshold in the signal's unit for a given capacity.
func (t EvictionThreshold) limit(capacity int64) int64 {
	if t.Quantity != nil {
		return t.Quantity.Value()
	}
	return int64(float64(capacity) * t.Percent / 100)
}

// ParseEvictionHard reads "signal<quantity|percent%,..." as --eviction-hard takes it.
// An empty string means no thresholds.
func ParseEvictionHard(s string) ([]EvictionThreshold, error) {
	var out []EvictionThreshold
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		sig, val, ok := strings.Cut(part, "<")
		if !ok {
			return nil, fmt.Errorf("eviction threshold %q: want signal<quantity, e.g. memory.available<100Mi", part)
		}
		switch sig {
		case SignalMemoryAvailable, SignalNodeFsAvailable, SignalNodeFsInodes, SignalPIDAvailable:
		default:
			return nil, fmt.Errorf("eviction threshold %q: unknown signal %q (known: %s, %s, %s, %s)", part, sig,
				SignalMemoryAvailable, SignalNodeFsAvailable, SignalNodeFsInodes, SignalPIDAvailable)
		}
		if seen[sig] {
			return nil, fmt.Errorf("eviction threshold %q: signal %s given twice", part, sig)
		}
		seen[sig] = true
		t := EvictionThreshold{Signal: sig}
		if p, ok := strings.CutSuffix(val, "%"); ok {
			f, err := strconv.ParseFloat(p, 64)
			if err != nil || f <= 0 || f > 100 {
				return nil, fmt.Errorf("eviction threshold %q: percentage must be in (0, 100]", part)
			}
			t.Percent = f
		} else {
			q, err := resource.ParseQuantity(val)
			if err != nil || q.Sign() < 0 {
				return nil, fmt.Errorf("eviction threshold %q: %q is not a non-negative quantity", part, val)
			}
			t.Quantity = &q
		}
		out = append(out, t)
	}
	return out, nil
}

// observation is what is available of a signal's resource, and of how much.
type observation struct{ available, capacity int64 }

// observe reads the signals out of a stats summary.
func observe(s *stats.Summary) map[string]observation {
	out := map[string]observation{}
	n := s.Node
	if m := n.Memory; m != nil && m.AvailableBytes != nil && m.WorkingSetBytes != nil {
		out[SignalMemoryAvailable] = observation{int64(*m.AvailableBytes), int64(*m.AvailableBytes + *m.WorkingSetBytes)}
	}
	if f := n.Fs; f != nil && f.AvailableBytes != nil && f.CapacityBytes != nil && *f.CapacityBytes > 0 {
		out[SignalNodeFsAvailable] = observation{int64(*f.AvailableBytes), int64(*f.CapacityBytes)}
	}
	if f := n.Fs; f != nil && f.InodesFree != nil && f.Inodes != nil && *f.Inodes > 0 {
		out[SignalNodeFsInodes] = observation{int64(*f.InodesFree), int64(*f.Inodes)}
	}
	if r := n.Rlimit; r != nil && r.MaxPID != nil && r.NumOfRunningProcesses != nil {
		out[SignalPIDAvailable] = observation{*r.MaxPID - *r.NumOfRunningProcesses, *r.MaxPID}
	}
	return out
}

// thresholdsMet returns the thresholds whose signal is below its limit.
func thresholdsMet(ts []EvictionThreshold, obs map[string]observation) []EvictionThreshold {
	var out []EvictionThreshold
	for _, t := range ts {
		if o, ok := obs[t.Signal]; ok && o.available < t.limit(o.capacity) {
			out = append(out, t)
		}
	}
	return out
}

// pressureOf is the node condition each signal drives.
var pressureOf = map[string]corev1.NodeConditionType{
	SignalMemoryAvailable: corev1.NodeMemoryPressure,
	SignalNodeFsAvailable: corev1.NodeDiskPressure,
	SignalNodeFsInodes:    corev1.NodeDiskPressure,
	SignalPIDAvailable:    corev1.NodePIDPressure,
}

// updatePressure records the conditions whose thresholds are met at now and returns
// the conditions that turned on or off. A condition stays on for transition after
// its threshold was last met, so that it does not flap around the threshold.
func updatePressure(lastMet map[corev1.NodeConditionType]time.Time, pressure map[corev1.NodeConditionType]bool,
	met []EvictionThreshold, now time.Time, transition time.Duration) map[corev1.NodeConditionType]bool {
	for _, t := range met {
		lastMet[pressureOf[t.Signal]] = now
	}
	changed := map[corev1.NodeConditionType]bool{}
	for _, c := range []corev1.NodeConditionType{corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure} {
		last, ok := lastMet[c]
		on := ok && now.Sub(last) <= transition
		if on != pressure[c] {
			pressure[c] = on
			changed[c] = on
		}
	}
	return changed
}

// evictionCandidate is a running pod with its memory working set.
type evictionCandidate struct {
	Pod        *corev1.Pod
	WorkingSet int64
}

// memoryRequest is the pod's total memory request (app containers; init containers
// have finished by the time a pod runs).
func memoryRequest(pod *corev1.Pod) int64 {
	var total int64
	for i := range pod.Spec.Containers {
		q := request(&pod.Spec.Containers[i], corev1.ResourceMemory)
		total += q.Value()
	}
	return total
}

// qosRank orders classes by how readily they are evicted.
var qosRank = map[corev1.PodQOSClass]int{corev1.PodQOSBestEffort: 0, corev1.PodQOSBurstable: 1, corev1.PodQOSGuaranteed: 2}

// systemCritical is the priority from which pods are never evicted
// (system-cluster-critical and system-node-critical).
const systemCritical = 2000000000

// rankForMemoryEviction orders candidates for eviction under memory pressure:
// BestEffort, then Burstable, then Guaranteed; within a class, lower priority first,
// then the pod using the most memory above its request. Critical pods and pods that
// already finished are left out.
func rankForMemoryEviction(cands []evictionCandidate) []evictionCandidate {
	out := make([]evictionCandidate, 0, len(cands))
	for _, c := range cands {
		if isTerminal(c.Pod) || c.Pod.DeletionTimestamp != nil || priority(c.Pod) >= systemCritical {
			continue
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b evictionCandidate) int {
		return cmp.Or(
			cmp.Compare(qosRank[qosClass(a.Pod)], qosRank[qosClass(b.Pod)]),
			cmp.Compare(priority(a.Pod), priority(b.Pod)),
			cmp.Compare(b.WorkingSet-memoryRequest(b.Pod), a.WorkingSet-memoryRequest(a.Pod)),
			cmp.Compare(a.Pod.Namespace+"/"+a.Pod.Name, b.Pod.Namespace+"/"+b.Pod.Name),
		)
	})
	return out
}

func priority(pod *corev1.Pod) int32 {
	if pod.Spec.Priority != nil {
		return *pod.Spec.Priority
	}
	return 0
}

// evictionMessage explains an eviction as the kubelet does, naming the container
// that used the most memory.
func evictionMessage(t EvictionThreshold, o observation, pod *corev1.Pod, ps *stats.PodStats) string {
	msg := fmt.Sprintf("The node was low on resource: memory. Threshold quantity: %s, available: %s. ",
		thresholdText(t, o), resource.NewQuantity(o.available, resource.BinarySI).String())
	var top *stats.ContainerStats
	for i := range ps.Containers {
		c := &ps.Containers[i]
		if c.Memory != nil && c.Memory.WorkingSetBytes != nil && (top == nil || *c.Memory.WorkingSetBytes > *top.Memory.WorkingSetBytes) {
			top = c
		}
	}
	if top == nil {
		return msg
	}
	req := resource.Quantity{}
	if spec := findContainer(pod, top.Name); spec != nil {
		req = request(spec, corev1.ResourceMemory)
	}
	used := resource.NewQuantity(int64(*top.Memory.WorkingSetBytes), resource.BinarySI)
	return msg + fmt.Sprintf("Container %s was using %s, request is %s, has larger consumption of memory. ", top.Name, used, req.String())
}

func thresholdText(t EvictionThreshold, o observation) string {
	if t.Quantity != nil {
		return t.Quantity.String()
	}
	return resource.NewQuantity(t.limit(o.capacity), resource.BinarySI).String()
}
