package quota

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
)

func serviceEvaluator(list Lister) *evaluator {
	return &evaluator{
		gr:      corev1.Resource("services"),
		list:    list,
		names:   []corev1.ResourceName{"services", "count/services", corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers},
		usage:   serviceUsage,
		updates: mainUpdates, // a change of type takes or frees node ports and load balancers
	}
}

// serviceUsage counts the service, its node ports and whether it is a load balancer.
func serviceUsage(obj runtime.Object) (corev1.ResourceList, error) {
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return nil, fmt.Errorf("expected a Service, got %T", obj)
	}
	one := *resource.NewQuantity(1, resource.DecimalSI)
	out := corev1.ResourceList{"services": one, "count/services": one,
		corev1.ResourceServicesNodePorts:     *resource.NewQuantity(0, resource.DecimalSI),
		corev1.ResourceServicesLoadBalancers: *resource.NewQuantity(0, resource.DecimalSI)}
	ports := int64(len(svc.Spec.Ports))
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
	case corev1.ServiceTypeLoadBalancer:
		out[corev1.ResourceServicesLoadBalancers] = one
		if a := svc.Spec.AllocateLoadBalancerNodePorts; a == nil || *a {
			out[corev1.ResourceServicesNodePorts] = *resource.NewQuantity(ports, resource.DecimalSI)
		}
	}
	return out, nil
}
