package verticalpodautoscaler

import (
	"context"
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"skiff/internal/vpa"
)

// defaultMinReplicas: the updater evicts only while at least this many of the
// target's pods are alive, so a lone replica is not taken down (upstream's default).
const defaultMinReplicas = 2

// update brings pods whose requests are outside the recommended range to the
// target: Auto and Recreate evict one pod per cycle through the eviction API (a
// PodDisruptionBudget may refuse); InPlaceOrRecreate resizes pods in place and
// evicts only the ones a resize cannot change (say, their QoS class would).
func (c *Controller) update(ctx context.Context, v *vpa.VerticalPodAutoscaler, pods []*corev1.Pod) error {
	mode := v.Mode()
	if mode != vpa.UpdateModeAuto && mode != vpa.UpdateModeRecreate && mode != vpa.UpdateModeInPlaceOrRecreate {
		return nil
	}
	rec, rp := v.Status.Recommendation, v.Spec.ResourcePolicy
	if rec == nil {
		return nil
	}
	evicted := false
	for _, p := range pods {
		if p.Status.Phase != corev1.PodRunning || !vpa.OutsideBounds(&p.Spec, rec, rp) {
			continue
		}
		if mode == vpa.UpdateModeInPlaceOrRecreate {
			err := c.resize(ctx, p, rec, rp)
			if err == nil {
				c.recorder.Eventf(p, corev1.EventTypeNormal, "InPlaceResizedByVPA", "Pod was resized in place by VPA Updater.")
				continue
			}
			if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) && !apierrors.IsBadRequest(err) {
				return err
			}
			// The resize cannot happen in place: fall back to eviction.
		}
		if evicted || !c.mayEvict(v, pods) {
			continue
		}
		err := c.client.PolicyV1().Evictions(p.Namespace).Evict(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace}})
		switch {
		case apierrors.IsTooManyRequests(err):
			continue // a disruption budget holds it; another pod may go
		case err != nil && !apierrors.IsNotFound(err):
			return err
		}
		evicted = true
		c.recorder.Eventf(p, corev1.EventTypeNormal, "EvictedByVPA", "Pod was evicted by VPA Updater to apply resource recommendation.")
	}
	return nil
}

func (c *Controller) mayEvict(v *vpa.VerticalPodAutoscaler, pods []*corev1.Pod) bool {
	minReplicas := int32(defaultMinReplicas)
	if up := v.Spec.UpdatePolicy; up != nil && up.MinReplicas != nil {
		minReplicas = *up.MinReplicas
	}
	return int32(len(pods)) >= minReplicas
}

// resize patches the pod's resize subresource with the recommended resources.
func (c *Controller) resize(ctx context.Context, p *corev1.Pod, rec *vpa.Recommendation, rp *vpa.ResourcePolicy) error {
	spec := p.Spec.DeepCopy()
	if !vpa.ApplyToPod(spec, rec, rp) {
		return nil
	}
	type container struct {
		Name      string                      `json:"name"`
		Resources corev1.ResourceRequirements `json:"resources"`
	}
	var cs []container
	for _, ct := range spec.Containers {
		cs = append(cs, container{ct.Name, ct.Resources})
	}
	patch, err := json.Marshal(map[string]any{"spec": map[string]any{"containers": cs}})
	if err != nil {
		return err
	}
	_, err = c.client.CoreV1().Pods(p.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "resize")
	return err
}
