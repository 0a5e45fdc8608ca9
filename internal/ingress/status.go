package ingress

import (
	"context"
	"sort"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// statusAddresses is what every served Ingress reports in status.loadBalancer:
// the addresses of the Ready nodes, since every agent runs this controller. Every
// controller computes the same list from the same Node cache, so the agents agree
// instead of overwriting each other's node. A node publishes its ExternalIPs if it
// has any, else its InternalIPs.
func (c *Controller) statusAddresses() []networkingv1.IngressLoadBalancerIngress {
	nodes, err := c.nodes.List(labels.Everything())
	if err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []networkingv1.IngressLoadBalancerIngress
	for _, n := range nodes {
		if !nodeReady(n) && n.Name != c.cfg.NodeName {
			continue
		}
		for _, ip := range nodeIPs(n) {
			if !seen[ip] {
				seen[ip] = true
				out = append(out, networkingv1.IngressLoadBalancerIngress{IP: ip})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IP < out[j].IP })
	return out
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func nodeIPs(n *corev1.Node) []string {
	var ext, internal []string
	for _, a := range n.Status.Addresses {
		switch a.Type {
		case corev1.NodeExternalIP:
			ext = append(ext, a.Address)
		case corev1.NodeInternalIP:
			internal = append(internal, a.Address)
		}
	}
	if len(ext) > 0 {
		return ext
	}
	return internal
}

// updateStatus writes status.loadBalancer on the Ingresses whose status differs.
// Failures are logged and retried at the next sync; the write carries the cached
// resourceVersion, so a conflict means a newer object that the next sync sees.
func (c *Controller) updateStatus(ctx context.Context, ings []*networkingv1.Ingress) {
	want := c.statusAddresses()
	if len(want) == 0 {
		return // no node known yet: keep what is there rather than blank it
	}
	for _, ing := range ings {
		if equality.Semantic.DeepEqual(ing.Status.LoadBalancer.Ingress, want) {
			continue
		}
		upd := ing.DeepCopy()
		upd.Status.LoadBalancer.Ingress = want
		_, err := c.client.NetworkingV1().Ingresses(ing.Namespace).UpdateStatus(ctx, upd, metav1.UpdateOptions{})
		switch {
		case apierrors.IsConflict(err) || apierrors.IsNotFound(err):
			// Our cache is behind (often our own previous write); the next sync
			// sees the newer object.
			c.log.Debug("ingress status write raced", "ingress", ing.Namespace+"/"+ing.Name, "err", err)
			continue
		case err != nil:
			c.log.Warn("update ingress status", "ingress", ing.Namespace+"/"+ing.Name, "err", err)
			continue
		}
		c.log.Info("ingress status updated", "ingress", ing.Namespace+"/"+ing.Name, "addresses", want)
	}
}
