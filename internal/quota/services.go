package quota

import (
	"fmt"
	"strings"

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
		updates: true, // a change of type takes or frees node ports and load balancers
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

// storageClassSuffix names the per-class claim resources:
// <class>.storageclass.storage.k8s.io/requests.storage and .../persistentvolumeclaims.
const storageClassSuffix = ".storageclass.storage.k8s.io/"

func claimEvaluator(list Lister) *evaluator {
	return &evaluator{
		gr:   corev1.Resource("persistentvolumeclaims"),
		list: list,
		names: []corev1.ResourceName{"persistentvolumeclaims", "count/persistentvolumeclaims",
			corev1.ResourceRequestsStorage},
		more: func(n corev1.ResourceName) bool {
			_, what, ok := strings.Cut(string(n), storageClassSuffix)
			return ok && (what == "requests.storage" || what == "persistentvolumeclaims")
		},
		usage:   claimUsage,
		updates: true, // a claim may grow
	}
}

// claimUsage counts the claim and its requested storage, overall and for its class.
func claimUsage(obj runtime.Object) (corev1.ResourceList, error) {
	pvc, ok := obj.(*corev1.PersistentVolumeClaim)
	if !ok {
		return nil, fmt.Errorf("expected a PersistentVolumeClaim, got %T", obj)
	}
	one := *resource.NewQuantity(1, resource.DecimalSI)
	out := corev1.ResourceList{"persistentvolumeclaims": one, "count/persistentvolumeclaims": one}
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	if class != "" {
		out[corev1.ResourceName(class+storageClassSuffix+"persistentvolumeclaims")] = one
	}
	size, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if alloc, has := pvc.Status.AllocatedResources[corev1.ResourceStorage]; has && (!ok || alloc.Cmp(size) > 0) {
		size, ok = alloc, true
	}
	if ok {
		out[corev1.ResourceRequestsStorage] = size.DeepCopy()
		if class != "" {
			out[corev1.ResourceName(class+storageClassSuffix+"requests.storage")] = size.DeepCopy()
		}
	}
	return out, nil
}
