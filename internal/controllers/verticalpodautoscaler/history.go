package verticalpodautoscaler

import (
	"context"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"skiff/internal/vpa"
)

// checkpointVersion tags the histogram layout a checkpoint was written with.
const checkpointVersion = "v3"

func historyKey(v *vpa.VerticalPodAutoscaler, container string) string {
	return v.Namespace + "/" + v.Name + "/" + container
}

func (c *Controller) historyOf(v *vpa.VerticalPodAutoscaler, container string) *containerHistory {
	k := historyKey(v, container)
	h := c.history[k]
	if h == nil {
		h = &containerHistory{agg: vpa.NewAggregate(), seen: map[string]time.Time{}}
		c.history[k] = h
	}
	return h
}

// sample adds the newest usage of each target pod's containers.
func (c *Controller) sample(ctx context.Context, v *vpa.VerticalPodAutoscaler, pods []*corev1.Pod) {
	list, err := c.Metrics.PodMetricses(v.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return // no metrics yet: the recommendation waits
	}
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Name] = p
	}
	for _, pm := range list.Items {
		pod := byName[pm.Name]
		if pod == nil {
			continue
		}
		for _, cm := range pm.Containers {
			h := c.historyOf(v, cm.Name)
			if !pm.Timestamp.Time.After(h.seen[pod.Name]) {
				continue
			}
			h.seen[pod.Name] = pm.Timestamp.Time
			var cpuReq float64
			for i := range pod.Spec.Containers {
				if pod.Spec.Containers[i].Name == cm.Name {
					q := pod.Spec.Containers[i].Resources.Requests[corev1.ResourceCPU]
					cpuReq = q.AsApproximateFloat64()
				}
			}
			cpu, mem := cm.Usage[corev1.ResourceCPU], cm.Usage[corev1.ResourceMemory]
			h.agg.AddSample(cpu.AsApproximateFloat64(), mem.AsApproximateFloat64(), cpuReq, pm.Timestamp.Time)
		}
	}
}

// recommend estimates each container of the target's pods that has history.
func (c *Controller) recommend(v *vpa.VerticalPodAutoscaler, pods []*corev1.Pod) *vpa.Recommendation {
	names := map[string]bool{}
	containers := 1
	for _, p := range pods {
		for _, ct := range p.Spec.Containers {
			names[ct.Name] = true
		}
		containers = max(containers, len(p.Spec.Containers))
	}
	// Without live pods, containers that have history (from checkpoints) still count.
	if len(pods) == 0 {
		prefix := v.Namespace + "/" + v.Name + "/"
		for k := range c.history {
			if len(k) > len(prefix) && k[:len(prefix)] == prefix {
				names[k[len(prefix):]] = true
			}
		}
	}
	rec := &vpa.Recommendation{}
	for name := range names {
		h := c.history[historyKey(v, name)]
		if h == nil || h.agg.Samples == 0 {
			continue
		}
		raw := h.agg.Estimate(containers)
		raw.ContainerName = name
		var rp *vpa.ResourcePolicy
		if v.Spec.ResourcePolicy != nil {
			rp = v.Spec.ResourcePolicy
		}
		if r, ok := vpa.ApplyPolicy(raw, vpa.PolicyFor(rp, name)); ok {
			rec.ContainerRecommendations = append(rec.ContainerRecommendations, r)
		}
	}
	if len(rec.ContainerRecommendations) == 0 {
		return nil
	}
	sort.Slice(rec.ContainerRecommendations, func(i, j int) bool {
		return rec.ContainerRecommendations[i].ContainerName < rec.ContainerRecommendations[j].ContainerName
	})
	return rec
}

// loadCheckpoints restores a VPA's history once, when the controller first sees it
// (after a restart, that is where the history is).
func (c *Controller) loadCheckpoints(ctx context.Context, v *vpa.VerticalPodAutoscaler) error {
	key := v.Namespace + "/" + v.Name
	if c.loaded[key] {
		return nil
	}
	list, err := c.Dynamic.Resource(vpa.CheckpointsGVR).Namespace(v.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	for i := range list.Items {
		cp, err := vpa.FromUnstructured[vpa.Checkpoint](&list.Items[i])
		if err != nil || cp.Spec.VPAObjectName != v.Name || cp.Status.Version != checkpointVersion {
			continue
		}
		h := c.historyOf(v, cp.Spec.ContainerName)
		h.agg.CPU.Restore(cp.Status.CPUHistogram)
		h.agg.Memory.Restore(cp.Status.MemoryHistogram)
		h.agg.FirstSample, h.agg.Last = cp.Status.FirstSampleStart.Time, cp.Status.LastSampleStart.Time
		h.agg.Samples = cp.Status.TotalSamplesCount
	}
	c.loaded[key] = true
	return nil
}

// saveCheckpoints writes each container's histograms as <vpa>-<container>.
func (c *Controller) saveCheckpoints(ctx context.Context, v *vpa.VerticalPodAutoscaler) error {
	prefix := v.Namespace + "/" + v.Name + "/"
	for k, h := range c.history {
		if len(k) <= len(prefix) || k[:len(prefix)] != prefix || h.agg.Samples == 0 {
			continue
		}
		container := k[len(prefix):]
		cp := &vpa.Checkpoint{
			TypeMeta: metav1.TypeMeta{APIVersion: vpa.GroupVersion.String(), Kind: "VerticalPodAutoscalerCheckpoint"},
			// Owned by the VPA, so the garbage collector removes it with the VPA.
			ObjectMeta: metav1.ObjectMeta{Name: v.Name + "-" + container, Namespace: v.Namespace,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: vpa.GroupVersion.String(), Kind: "VerticalPodAutoscaler", Name: v.Name, UID: v.UID}}},
			Spec: vpa.CheckpointSpec{VPAObjectName: v.Name, ContainerName: container},
			Status: vpa.CheckpointStatus{LastUpdateTime: metav1.NewTime(c.now()), Version: checkpointVersion,
				CPUHistogram: h.agg.CPU.Checkpoint(), MemoryHistogram: h.agg.Memory.Checkpoint(),
				FirstSampleStart: metav1.NewTime(h.agg.FirstSample), LastSampleStart: metav1.NewTime(h.agg.Last),
				TotalSamplesCount: h.agg.Samples},
		}
		if err := c.putCheckpoint(ctx, cp); err != nil {
			return err
		}
	}
	return nil
}

func (c *Controller) putCheckpoint(ctx context.Context, cp *vpa.Checkpoint) error {
	res := c.Dynamic.Resource(vpa.CheckpointsGVR).Namespace(cp.Namespace)
	cur, err := res.Get(ctx, cp.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		u, err := vpa.ToUnstructured(cp)
		if err != nil {
			return err
		}
		_, err = res.Create(ctx, u, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	cp.ResourceVersion = cur.GetResourceVersion()
	u, err := vpa.ToUnstructured(cp)
	if err != nil {
		return err
	}
	_, err = res.Update(ctx, u, metav1.UpdateOptions{})
	return err
}

// forgetExcept drops the history of VPAs that no longer exist (keys "ns/name").
func (c *Controller) forgetExcept(live map[string]bool) {
	for k := range c.history {
		parts := strings.SplitN(k, "/", 3)
		if len(parts) == 3 && !live[parts[0]+"/"+parts[1]] {
			delete(c.history, k)
		}
	}
	for k := range c.loaded {
		if !live[k] {
			delete(c.loaded, k)
		}
	}
}
