package scheduler

import (
	"context"
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	storagelisters "k8s.io/client-go/listers/storage/v1"
	"k8s.io/client-go/tools/cache"

	fw "skiff/internal/scheduler/framework"
	"skiff/internal/scheduler/plugins"
)

// maxExplainedNodes caps the per-node lines of an explanation; the summary line
// still counts every node.
const maxExplainedNodes = 20

// Explain says why pod fits or does not fit each node of the live cluster, running
// every filter on every node (a scheduling cycle stops at the first failure). It is
// what `skiff why` prints.
func (s *Scheduler) Explain(pod *v1.Pod) string {
	s.cache.Lock()
	defer s.cache.Unlock()
	return explain(s.prof, s.cache, fw.NewPodInfo(pod))
}

// Storage is what the volume filter reads: the cluster's claims, volumes and
// classes, and the CSI drivers' registrations and reported capacities.
type Storage struct {
	Claims     []*v1.PersistentVolumeClaim
	Volumes    []*v1.PersistentVolume
	Classes    []*storagev1.StorageClass
	CSINodes   []*storagev1.CSINode
	Drivers    []*storagev1.CSIDriver
	Capacities []*storagev1.CSIStorageCapacity
}

// listers indexes the lists the way the scheduler's informers do.
func (st Storage) listers() *plugins.VolumeBinding {
	return &plugins.VolumeBinding{Claims: corelisters.NewPersistentVolumeClaimLister(indexOf(st.Claims)),
		Volumes:    corelisters.NewPersistentVolumeLister(indexOf(st.Volumes)),
		Classes:    storagelisters.NewStorageClassLister(indexOf(st.Classes)),
		CSINodes:   storagelisters.NewCSINodeLister(indexOf(st.CSINodes)),
		Drivers:    storagelisters.NewCSIDriverLister(indexOf(st.Drivers)),
		Capacities: storagelisters.NewCSIStorageCapacityLister(indexOf(st.Capacities))}
}

func indexOf[T any](objs []*T) cache.Indexer {
	ix := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc})
	for _, o := range objs {
		_ = ix.Add(o)
	}
	return ix
}

// Explain is the offline form of (*Scheduler).Explain: it builds a snapshot from
// lists of nodes, bound pods and storage objects (as a CLI gets them from the API)
// and explains pod against it.
func Explain(cfg Config, pod *v1.Pod, nodes []*v1.Node, pods []*v1.Pod, storage Storage) (string, error) {
	if err := cfg.validate(); err != nil {
		return "", err
	}
	c := NewCache()
	for _, n := range nodes {
		c.AddNode(n)
	}
	for _, p := range pods {
		if p.Spec.NodeName != "" && !terminal(p) {
			c.AddPod(p)
		}
	}
	c.Lock()
	defer c.Unlock()
	return explain(newProfile(&cfg, listers{volumes: storage.listers()}), c, fw.NewPodInfo(pod)), nil
}

func explain(prof *profile, snap fw.Snapshot, pi *fw.PodInfo) string {
	nodes := snap.List()
	var b strings.Builder
	fmt.Fprintf(&b, "pod %s/%s (priority %d)\n", pi.Pod.Namespace, pi.Pod.Name, fw.Priority(pi.Pod))
	state := fw.NewCycleState()
	if st := prof.preFilter(context.Background(), state, pi, snap); st != nil {
		fmt.Fprintf(&b, "%s\n  (%s rejects the pod before looking at nodes)\n",
			availabilityMessage(len(nodes), nil, st.Message()), st.Plugin)
		return b.String()
	}
	reasons := map[string]int{}
	var lines []string
	fits := 0
	for _, ni := range nodes {
		sts := prof.filterAll(state, pi, ni)
		if len(sts) == 0 {
			fits++
			lines = append(lines, fmt.Sprintf("  %s: fits", ni.Name()))
			continue
		}
		var why []string
		for _, st := range sts {
			for _, r := range st.Reasons {
				reasons[r]++
				why = append(why, fmt.Sprintf("%s (%s)", r, st.Plugin))
			}
		}
		lines = append(lines, fmt.Sprintf("  %s: %s", ni.Name(), strings.Join(why, "; ")))
	}
	if fits > 0 {
		fmt.Fprintf(&b, "%d/%d nodes are available.\n", fits, len(nodes))
	} else {
		fmt.Fprintf(&b, "%s\n", availabilityMessage(len(nodes), reasons, ""))
	}
	sort.Strings(lines)
	for i, l := range lines {
		if i == maxExplainedNodes {
			fmt.Fprintf(&b, "  ... and %d more node(s)\n", len(lines)-i)
			break
		}
		b.WriteString(l + "\n")
	}
	return b.String()
}
