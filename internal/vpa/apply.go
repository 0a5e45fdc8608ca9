package vpa

import (
	"math/big"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// recommendationFor finds a container's recommendation.
func recommendationFor(rec *Recommendation, name string) *ContainerRecommendation {
	if rec == nil {
		return nil
	}
	for i := range rec.ContainerRecommendations {
		if rec.ContainerRecommendations[i].ContainerName == name {
			return &rec.ContainerRecommendations[i]
		}
	}
	return nil
}

// ContainerResources returns what the recommendation makes of c's resources: each
// controlled resource's request becomes the target and, unless the policy says
// RequestsOnly, a limit keeps its ratio to the request, as upstream does. changed
// reports whether anything differs from c's current values.
func ContainerResources(c *corev1.Container, rec *Recommendation, p *ContainerPolicy) (corev1.ResourceRequirements, bool) {
	out := *c.Resources.DeepCopy()
	r := recommendationFor(rec, c.Name)
	if r == nil || (p != nil && p.Mode != nil && *p.Mode == "Off") {
		return out, false
	}
	limits := p == nil || p.ControlledValues == nil || *p.ControlledValues != "RequestsOnly"
	changed := false
	for _, name := range controlled(p) {
		target, ok := r.Target[name]
		if !ok {
			continue
		}
		old, hadReq := out.Requests[name]
		if hadReq && old.Cmp(target) == 0 {
			continue
		}
		if out.Requests == nil {
			out.Requests = corev1.ResourceList{}
		}
		out.Requests[name] = target.DeepCopy()
		changed = true
		if lim, ok := out.Limits[name]; ok && limits && hadReq && !old.IsZero() {
			out.Limits[name] = scaled(lim, target, old)
		}
	}
	return out, changed
}

// scaled is lim*target/old, computed exactly and rounded up to the unit of lim.
func scaled(lim, target, old resource.Quantity) resource.Quantity {
	num := new(big.Int).Mul(big.NewInt(lim.MilliValue()), big.NewInt(target.MilliValue()))
	den := big.NewInt(old.MilliValue())
	q, m := new(big.Int).QuoRem(num, den, new(big.Int))
	if m.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	milli := q.Int64()
	if lim.Format == resource.BinarySI {
		return *resource.NewQuantity((milli+999)/1000, resource.BinarySI)
	}
	return *resource.NewMilliQuantity(milli, lim.Format)
}

// ApplyToPod sets the pod's container requests (and limits) from the recommendation
// and reports whether any changed.
func ApplyToPod(spec *corev1.PodSpec, rec *Recommendation, rp *ResourcePolicy) bool {
	changed := false
	for i := range spec.Containers {
		c := &spec.Containers[i]
		res, ch := ContainerResources(c, rec, PolicyFor(rp, c.Name))
		if ch {
			c.Resources = res
			changed = true
		}
	}
	return changed
}

// OutsideBounds reports a pod whose running containers' requests fall outside the
// recommended [lowerBound, upperBound] for a controlled resource: the pods the
// updater acts on. Requests inside the range are left alone, so pods do not churn
// over small changes.
func OutsideBounds(spec *corev1.PodSpec, rec *Recommendation, rp *ResourcePolicy) bool {
	for i := range spec.Containers {
		c := &spec.Containers[i]
		r := recommendationFor(rec, c.Name)
		p := PolicyFor(rp, c.Name)
		if r == nil || (p != nil && p.Mode != nil && *p.Mode == "Off") {
			continue
		}
		for _, name := range controlled(p) {
			req, ok := c.Resources.Requests[name]
			lo, hasLo := r.LowerBound[name]
			hi, hasHi := r.UpperBound[name]
			if _, hasTarget := r.Target[name]; hasTarget && !ok {
				return true
			}
			if ok && (hasLo && req.Cmp(lo) < 0 || hasHi && req.Cmp(hi) > 0) {
				return true
			}
		}
	}
	return false
}
