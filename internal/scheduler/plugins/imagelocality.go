package plugins

import (
	fw "skiff/internal/scheduler/framework"
)

// Image sizes between which image locality scores linearly: below the minimum an
// image is cheap to pull anyway, above the maximum having it cannot matter more.
const (
	imageMinThreshold int64 = 23 * 1024 * 1024
	imageMaxThreshold int64 = 1000 * 1024 * 1024
)

// ImageLocality prefers nodes that already hold the pod's images, discounted by how
// many nodes hold them, so a popular image does not pull every pod to one node.
type ImageLocality struct{}

// Name implements fw.Plugin.
func (*ImageLocality) Name() string { return ImageLocalityName }

type imageState struct{ spread map[string]float64 }

func (s *imageState) Clone() fw.StateData { return s }

// PreScore computes each image's spread (fraction of nodes holding it) once.
func (l *ImageLocality) PreScore(state *fw.CycleState, pod *fw.PodInfo, snap fw.Snapshot, _ []*fw.NodeInfo) *fw.Status {
	total := len(snap.List())
	if total == 0 {
		return fw.NewStatus(fw.Skip)
	}
	s := &imageState{spread: map[string]float64{}}
	any := false
	for _, c := range pod.Pod.Spec.Containers {
		img := fw.NormalizeImage(c.Image)
		n := snap.ImageNodeCount(img)
		s.spread[img] = float64(n) / float64(total)
		any = any || n > 0
	}
	if !any {
		return fw.NewStatus(fw.Skip)
	}
	state.Write(ImageLocalityName, s)
	return nil
}

// Score implements fw.ScorePlugin.
func (l *ImageLocality) Score(state *fw.CycleState, pod *fw.PodInfo, n *fw.NodeInfo) int64 {
	s, _ := state.Read(ImageLocalityName).(*imageState)
	if s == nil {
		return 0
	}
	var sum int64
	for _, c := range pod.Pod.Spec.Containers {
		img := fw.NormalizeImage(c.Image)
		if size, ok := n.ImageSizes[img]; ok {
			sum += int64(float64(size) * s.spread[img])
		}
	}
	maxT := imageMaxThreshold * int64(len(pod.Pod.Spec.Containers))
	sum = min(max(sum, imageMinThreshold), maxT)
	return fw.MaxScore * (sum - imageMinThreshold) / (maxT - imageMinThreshold)
}
