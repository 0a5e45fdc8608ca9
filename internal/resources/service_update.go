package resources

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

// The spec/status split and the update-time fixes of Services.

func (serviceStrategy) PrepareForCreate(obj runtime.Object) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	svc.Status = corev1.ServiceStatus{}
	serviceNormalizeClusterIPs(nil, svc)
}

func (s serviceStrategy) PrepareForUpdate(obj, old runtime.Object, subresource string) {
	svc, ok1 := obj.(*corev1.Service)
	oldSvc, ok2 := old.(*corev1.Service)
	if !ok1 || !ok2 {
		return
	}
	if subresource == "status" {
		s.generic.PrepareForUpdate(obj, old, subresource)
		return
	}
	svc.Status = *oldSvc.Status.DeepCopy()
	servicePatchAllocated(svc, oldSvc)
	serviceNormalizeClusterIPs(oldSvc, svc)
	serviceDropTypeDependent(svc, oldSvc)
}

// servicePatchAllocated copies allocated values the client left out (a replace or
// apply that never mentioned clusterIP or nodePort) from the stored object, so such
// writes do not read as attempts to change them.
func servicePatchAllocated(svc, old *corev1.Service) {
	if serviceNeedsClusterIP(old) && serviceNeedsClusterIP(svc) {
		if svc.Spec.ClusterIP == "" {
			svc.Spec.ClusterIP = old.Spec.ClusterIP
		}
		if len(svc.Spec.ClusterIPs) == 0 && len(old.Spec.ClusterIPs) > 0 {
			svc.Spec.ClusterIPs = slices.Clone(old.Spec.ClusterIPs)
		}
	}
	if serviceNeedsNodePort(old) && serviceNeedsNodePort(svc) {
		used := sets.New[int32]()
		inOld := sets.New[int32]()
		byName := map[string]int32{}
		for _, p := range old.Spec.Ports {
			inOld.Insert(p.NodePort)
			byName[p.Name] = p.NodePort
		}
		for _, p := range svc.Spec.Ports {
			if p.NodePort != 0 && inOld.Has(p.NodePort) {
				used.Insert(p.NodePort)
			}
		}
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if v := byName[p.Name]; p.NodePort == 0 && !used.Has(v) {
				p.NodePort = v
			}
		}
	}
	if serviceNeedsHealthCheck(old) && serviceNeedsHealthCheck(svc) && svc.Spec.HealthCheckNodePort == 0 {
		svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

// serviceNormalizeClusterIPs keeps clusterIP and clusterIPs in step for clients that
// set only the singular field.
func serviceNormalizeClusterIPs(old, svc *corev1.Service) {
	spec := &svc.Spec
	if old == nil {
		if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
			spec.ClusterIPs = []string{spec.ClusterIP}
		}
		return
	}
	if len(old.Spec.ClusterIPs) > 0 && len(spec.ClusterIPs) == 0 && old.Spec.ClusterIP == spec.ClusterIP {
		spec.ClusterIPs = slices.Clone(old.Spec.ClusterIPs)
	}
	if old.Spec.ClusterIP != spec.ClusterIP {
		same := slices.Equal(old.Spec.ClusterIPs, spec.ClusterIPs)
		if old.Spec.ClusterIP != "" && spec.ClusterIP == "" && same {
			spec.ClusterIPs = nil
		}
		if spec.ClusterIP != "" && same {
			spec.ClusterIPs = []string{spec.ClusterIP}
		}
	}
}

// serviceDropTypeDependent clears fields that stop applying when the type changes,
// but only values the client did not touch in this write (they were allocated or
// defaulted for the old type).
func serviceDropTypeDependent(svc, old *corev1.Service) {
	spec, o := &svc.Spec, &old.Spec
	if serviceNeedsClusterIP(old) && !serviceNeedsClusterIP(svc) {
		if spec.ClusterIP == o.ClusterIP && slices.Equal(spec.ClusterIPs, o.ClusterIPs) {
			spec.ClusterIP, spec.ClusterIPs = "", nil
		}
		if slices.Equal(spec.IPFamilies, o.IPFamilies) {
			spec.IPFamilies = nil
		}
		if ptr.Equal(spec.IPFamilyPolicy, o.IPFamilyPolicy) {
			spec.IPFamilyPolicy = nil
		}
	}
	if serviceNeedsNodePort(old) && !serviceNeedsNodePort(svc) && serviceSameNodePorts(svc, old) {
		for i := range spec.Ports {
			spec.Ports[i].NodePort = 0
		}
	}
	if serviceNeedsHealthCheck(old) && !serviceNeedsHealthCheck(svc) && spec.HealthCheckNodePort == o.HealthCheckNodePort {
		spec.HealthCheckNodePort = 0
	}
	if o.Type == corev1.ServiceTypeLoadBalancer && spec.Type != corev1.ServiceTypeLoadBalancer {
		if ptr.Equal(spec.AllocateLoadBalancerNodePorts, o.AllocateLoadBalancerNodePorts) {
			spec.AllocateLoadBalancerNodePorts = nil
		}
		if ptr.Equal(spec.LoadBalancerClass, o.LoadBalancerClass) {
			spec.LoadBalancerClass = nil
		}
	}
	if serviceExternallyAccessible(old) && !serviceExternallyAccessible(svc) && spec.ExternalTrafficPolicy == o.ExternalTrafficPolicy {
		spec.ExternalTrafficPolicy = ""
	}
	// The load balancer is released asynchronously, but the user need not see that.
	if spec.Type != corev1.ServiceTypeLoadBalancer {
		svc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
}

func serviceSameNodePorts(a, b *corev1.Service) bool {
	av, bv := sets.New[int32](), sets.New[int32]()
	for _, p := range a.Spec.Ports {
		if p.NodePort != 0 {
			av.Insert(p.NodePort)
		}
	}
	for _, p := range b.Spec.Ports {
		if p.NodePort != 0 {
			bv.Insert(p.NodePort)
		}
	}
	return av.Equal(bv)
}
