package kubelet

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The kubelet reports which spec its status was computed from: status.observedGeneration
// and each condition it owns follow metadata.generation after every spec update.
func TestFakeRuntimeObservedGeneration(t *testing.T) {
	n := newFakeNode(t)
	n.images.SetFakeImages([]string{"skiff.local/pause:1"})
	pod := simplePod("web")
	pod.Generation = 1
	n.add(pod)
	for _, gen := range []int64{1, 2, 3} {
		if gen > 1 {
			// The API server bumps the generation on a spec change; the fake does not.
			p := n.get("web")
			p.Generation = gen
			d := int64(5000 - gen)
			p.Spec.ActiveDeadlineSeconds = &d
			if _, err := n.client.CoreV1().Pods("default").Update(context.Background(), p, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		n.sync("web")
		got := n.get("web")
		if got.Status.ObservedGeneration != gen {
			t.Errorf("generation %d: status.observedGeneration = %d", gen, got.Status.ObservedGeneration)
		}
		owned := map[corev1.PodConditionType]bool{corev1.PodReadyToStartContainers: true, corev1.PodInitialized: true,
			corev1.ContainersReady: true, corev1.PodReady: true}
		for _, c := range got.Status.Conditions {
			if owned[c.Type] {
				delete(owned, c.Type)
				if c.ObservedGeneration != gen {
					t.Errorf("generation %d: condition %s has observedGeneration %d", gen, c.Type, c.ObservedGeneration)
				}
			}
		}
		if len(owned) > 0 {
			t.Errorf("generation %d: conditions missing: %v", gen, owned)
		}
	}
}
